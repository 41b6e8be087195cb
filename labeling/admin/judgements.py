"""Judgements: a read-only record of what annotators said about completions."""

from django.contrib import admin

from labeling.admin.scoping import ProjectScopedAdmin
from labeling.models import Judgement


@admin.register(Judgement)
class JudgementAdmin(ProjectScopedAdmin):
    project_path = "prompt__project"
    list_display = [
        "kind",
        "outcome",
        "choice",
        "annotator",
        "prompt",
        "time_spent_ms",
        "created_at",
    ]
    list_filter = ["kind", "outcome", "choice", "prompt__project"]
    search_fields = ["annotator__username", "prompt__instruction", "reason"]
    raw_id_fields = ["assignment", "prompt", "left_completion", "right_completion"]
    list_select_related = ["annotator", "prompt"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # judgements come from annotators through judgement_submit

    def has_change_permission(self, request, obj=None):
        return False  # a judgement is a record of what an annotator said
