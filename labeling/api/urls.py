from django.urls import path

from labeling.api.views import (
    auth,
    documents,
    exports,
    head_to_head,
    history,
    imports,
    projects,
    tasks,
)

# Mounted with training.api.urls under one "api" namespace by config.api_urls.

urlpatterns = [
    path("auth/token/", auth.TokenObtainApi.as_view(), name="token"),
    # annotators
    path("projects/<slug:slug>/task/", tasks.TaskNextApi.as_view(), name="task_next"),
    path(
        "tasks/<uuid:token>/judgement/",
        tasks.JudgementSubmitApi.as_view(),
        name="judgement_submit",
    ),
    path(
        "tasks/<uuid:token>/demonstration/",
        tasks.DemonstrationSubmitApi.as_view(),
        name="demonstration_submit",
    ),
    path(
        "tasks/<uuid:token>/continuation/",
        tasks.ContinuationSubmitApi.as_view(),
        name="continuation_submit",
    ),
    path("tasks/<uuid:token>/skip/", tasks.TaskSkipApi.as_view(), name="task_skip"),
    path("tasks/<uuid:token>/extend/", tasks.TaskExtendApi.as_view(), name="task_extend"),
    path("me/judgements/", history.MyJudgementsApi.as_view(), name="my_judgements"),
    path("me/demonstrations/", history.MyDemonstrationsApi.as_view(), name="my_demonstrations"),
    # projects
    path("projects/", projects.ProjectListApi.as_view(), name="projects"),
    path("projects/<slug:slug>/", projects.ProjectDetailApi.as_view(), name="project"),
    path(
        "projects/<slug:slug>/annotators/",
        projects.AnnotatorStatsApi.as_view(),
        name="annotator_stats",
    ),
    path(
        "projects/<slug:slug>/prompts/import/",
        imports.PromptImportApi.as_view(),
        name="prompt_import",
    ),
    path(
        "projects/<slug:slug>/documents/",
        documents.DocumentUploadApi.as_view(),
        name="documents_upload",
    ),
    # exports
    path("projects/<slug:slug>/exports/", exports.DatasetExportListApi.as_view(), name="exports"),
    path("exports/<int:pk>/", exports.DatasetExportDetailApi.as_view(), name="export"),
    path("exports/<int:pk>/again/", exports.DatasetExportAgainApi.as_view(), name="export_again"),
    path(
        "exports/<int:pk>/files/<str:name>",
        exports.DatasetExportFileApi.as_view(),
        name="export_file",
    ),
    path(
        "projects/<slug:slug>/model-versions/head-to-head/",
        head_to_head.HeadToHeadApi.as_view(),
        name="head_to_head",
    ),
]
