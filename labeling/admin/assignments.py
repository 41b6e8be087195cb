"""The annotation queue's assignments: a record of who holds or did what; changed only
through the queue's services."""

from django.contrib import admin

from labeling.admin.scoping import ProjectScopedAdmin
from labeling.models import Assignment


@admin.register(Assignment)
class AssignmentAdmin(ProjectScopedAdmin):
    list_display = ["kind", "annotator", "prompt", "status", "expires_at", "submitted_at"]
    list_filter = ["kind", "status", "project"]
    search_fields = ["annotator__username", "prompt__instruction"]
    raw_id_fields = ["prompt", "item", "left_completion", "right_completion", "demonstration"]
    list_select_related = ["annotator", "prompt"]
    show_full_result_count = False
    readonly_fields = ["token", "created_at", "submitted_at", "time_spent_ms"]

    def has_add_permission(self, request):
        return False  # the queue (task_next) hands out assignments

    def has_change_permission(self, request, obj=None):
        return False  # slot counts depend on status: change it through the services only
