from django.urls import path

from labeling.views import drafts, exports, home, my_work, review, workspace

app_name = "labeling"

urlpatterns = [
    path("", home.home, name="home"),
    path("p/<slug:slug>/", workspace.workspace, name="workspace"),
    path("p/<slug:slug>/skip/", workspace.workspace_skip, name="workspace_skip"),
    path("p/<slug:slug>/extend/", workspace.workspace_extend, name="workspace_extend"),
    path("exports/<int:pk>/files/<str:name>", exports.export_file, name="export_file"),
    path("p/<slug:slug>/my-work/", my_work.my_work, name="my_work"),
    path("p/<slug:slug>/review/", review.review, name="review"),
    path("p/<slug:slug>/drafts/", drafts.drafts_review, name="drafts"),
]
