from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from serving.models import ModelServer


@admin.register(ModelServer)
class ModelServerAdmin(admin.ModelAdmin):
    """Read-only: the background worker writes these rows after every check of a server."""

    list_display = [
        "url",
        "state",
        "adapters_loaded",
        "last_error",
        "last_checked_at",
        "last_ok_at",
        "consecutive_failures",
        "next_retry_at",
    ]
    list_filter = ["state"]
    search_fields = ["url"]
    readonly_fields = [
        *list_display,
        "adapters",
        "adapter_failures",
        "agent_error",
        "agent_reported_at",
    ]

    @admin.display(description=_("Adapters (agent's last report)"))
    def adapters_loaded(self, server: ModelServer) -> str:
        """What its agent last reported loaded, and what it could not load; a server without
        an agent shows a dash."""
        if server.agent_reported_at is None:
            return "-"
        text = ", ".join(server.adapters) or "none"
        if server.adapter_failures:
            text += " (not loaded: " + ", ".join(sorted(server.adapter_failures)) + ")"
        if server.agent_error:
            text += f" ({server.agent_error})"
        return f"{text}, reported {timezone.localtime(server.agent_reported_at):%Y-%m-%d %H:%M:%S}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
