"""Project admins see and edit only the objects of their own projects (see labeling.access)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from labeling.access import administered_only, projects_administered_by


class ProjectScopedAdmin(admin.ModelAdmin):
    """`project_path` is the lookup from the model to its Project ("project", "prompt__project")."""

    project_path = "project"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return administered_only(queryset, user=request.user, project_path=self.project_path)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "project" and not request.user.is_superuser:
            kwargs["queryset"] = projects_administered_by(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AdministeredProjectForm(forms.Form):
    """A form that starts with the project: one of the user's administered projects,
    preselected when there is only one."""

    project = forms.ModelChoiceField(label=_("Project"), queryset=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        projects = projects_administered_by(user=user)
        self.fields["project"].queryset = projects
        if len(projects[:2]) == 1:
            self.fields["project"].initial = projects.first()
