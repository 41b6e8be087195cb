"""Admin helpers: project admins see and edit only the objects of their own projects."""

from django.contrib import admin

from labeling.selectors.projects import projects_administered_by


class ProjectScopedAdmin(admin.ModelAdmin):
    """`project_path` is the lookup from the model to its Project ("project", "prompt__project")."""

    project_path = "project"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        projects = projects_administered_by(user=request.user)
        return queryset.filter(**{f"{self.project_path}__in": projects})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "project" and not request.user.is_superuser:
            kwargs["queryset"] = projects_administered_by(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
