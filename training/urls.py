from django.urls import path

from training import views

app_name = "training"

urlpatterns = [
    path("runs/<int:pk>/progress/", views.run_progress_fragment, name="run_progress"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
]
