"""Demonstrations: what annotators wrote, with its review."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from labeling.admin.scoping import ProjectScopedAdmin
from labeling.models import Demonstration


@admin.register(Demonstration)
class DemonstrationAdmin(ProjectScopedAdmin):
    project_path = "prompt__project"
    list_display = ["short_output", "prompt", "origin", "author", "review_status", "created_at"]
    readonly_fields = ["original_output", "reviewed_by", "reviewed_at"]
    list_filter = ["origin", "review_status", "prompt__project"]
    search_fields = ["output", "prompt__instruction"]
    raw_id_fields = ["prompt", "source_completion"]
    list_select_related = ["prompt", "author"]

    @admin.display(description=_("Output"))
    def short_output(self, demonstration):
        return demonstration.output[:100]
