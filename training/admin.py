from django.contrib import admin

from labeling.admin_scoping import ProjectScopedAdmin
from training.models import ModelServer, ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(ProjectScopedAdmin):
    list_display = ["__str__", "served_name", "status", "parent", "created_at"]
    list_filter = ["status", "project"]
    search_fields = ["served_name", "project__name"]
    readonly_fields = ["created_at"]
    list_select_related = ["project", "parent"]


@admin.register(ModelServer)
class ModelServerAdmin(admin.ModelAdmin):
    """Read-only: the background worker writes these rows after every check of a server."""

    list_display = [
        "url",
        "state",
        "last_error",
        "last_checked_at",
        "last_ok_at",
        "consecutive_failures",
        "next_retry_at",
    ]
    list_filter = ["state"]
    search_fields = ["url"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
