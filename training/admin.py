from django.contrib import admin

from labeling.admin_scoping import ProjectScopedAdmin
from training.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(ProjectScopedAdmin):
    list_display = ["__str__", "served_name", "status", "parent", "created_at"]
    list_filter = ["status", "project"]
    search_fields = ["served_name", "project__name"]
    readonly_fields = ["created_at"]
    list_select_related = ["project", "parent"]
