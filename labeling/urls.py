from django.urls import path

from labeling import views, views_exports, views_my_work, views_review, views_workspace

app_name = "labeling"

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/", views_workspace.workspace, name="workspace"),
    path("p/<slug:slug>/skip/", views_workspace.workspace_skip, name="workspace_skip"),
]

urlpatterns += [
    path("exports/<int:pk>/files/<str:name>", views_exports.export_file, name="export_file"),
]

urlpatterns += [
    path("p/<slug:slug>/my-work/", views_my_work.my_work, name="my_work"),
]

urlpatterns += [
    path("p/<slug:slug>/review/", views_review.review, name="review"),
]
