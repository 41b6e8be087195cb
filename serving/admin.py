from django.contrib import admin

from serving.models import ModelServer


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
