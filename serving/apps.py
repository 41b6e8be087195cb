from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServingConfig(AppConfig):
    """Model servers as the web app sees them, over the Django-free serving.vllm library."""

    name = "serving"
    verbose_name = _("Model serving")
