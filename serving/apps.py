from django.apps import AppConfig


class ServingConfig(AppConfig):
    """Model servers as the web app sees them, over the Django-free serving.vllm library."""

    name = "serving"
    verbose_name = "Model serving"
