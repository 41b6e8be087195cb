"""Training runs and model versions; config.api_urls mounts them beside labeling's API."""

from django.urls import path

from training.api import views

urlpatterns = [
    path(
        "projects/<slug:slug>/training-runs/",
        views.TrainingRunListApi.as_view(),
        name="training_runs",
    ),
    path("training-runs/<int:pk>/", views.TrainingRunDetailApi.as_view(), name="training_run"),
    path(
        "training-runs/<int:pk>/cancel/",
        views.TrainingRunCancelApi.as_view(),
        name="training_run_cancel",
    ),
    path(
        "projects/<slug:slug>/model-versions/",
        views.ModelVersionListApi.as_view(),
        name="model_versions",
    ),
    path(
        "model-versions/<int:pk>/publish/",
        views.ModelVersionPublishApi.as_view(),
        name="model_version_publish",
    ),
    path(
        "model-versions/<int:pk>/rollback/",
        views.ModelVersionRollbackApi.as_view(),
        name="model_version_rollback",
    ),
]
