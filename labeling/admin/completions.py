"""Completions: a read-only record of what the model said."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from labeling.admin.scoping import ProjectScopedAdmin
from labeling.models import Completion


@admin.register(Completion)
class CompletionAdmin(ProjectScopedAdmin):
    project_path = "prompt__project"
    list_display = [
        "short_text",
        "model_version",
        "finish_reason",
        "completion_tokens",
        "latency_ms",
        "is_synthetic",
        "created_at",
    ]
    list_filter = ["model_version", "finish_reason", "is_synthetic", "prompt__project"]
    search_fields = ["text", "prompt__instruction"]
    raw_id_fields = ["prompt"]
    list_select_related = ["model_version", "model_version__project"]

    def has_change_permission(self, request, obj=None):
        return False  # completions are a record of what the model said

    @admin.display(description=_("Text"))
    def short_text(self, completion):
        return completion.text[:100]
