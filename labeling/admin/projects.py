"""Projects: their settings and members, the quality dashboard, and what starts from a project
(a dataset export, a training run)."""

from django.contrib import admin
from django.db.models import Count
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from labeling.access import projects_administered_by
from labeling.admin.exports import export_dataset
from labeling.admin.training_actions import start_training_run
from labeling.models import Membership, Project
from labeling.selectors.documents import document_totals
from labeling.selectors.quality import dashboard_for
from labeling.services.projects import base_version_ensure


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "prompt_count", "completions_per_prompt", "overlap"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "guidelines"]}),
        ("Tasks", {"fields": ["task_kinds", "overlap", "prompt_selection"]}),
        (
            "Sampling",
            {"fields": ["completions_per_prompt", "temperature", "top_p", "max_tokens"]},
        ),
        ("Quality", {"fields": ["gold_share", "compare_share", "quality_dashboard_link"]}),
        ("Exports", {"fields": ["text_template", "documents_link"]}),
    ]
    readonly_fields = ["quality_dashboard_link", "documents_link"]
    actions = [export_dataset, start_training_run]

    @admin.display(description="Quality dashboard")
    def quality_dashboard_link(self, project):
        if project.pk is None:
            return "-"
        url = reverse("admin:labeling_project_quality", args=[project.pk])
        return format_html(
            '<a href="{}">Agreement, gold, live version vs the one it replaced, leaderboard, '
            "activity</a>",
            url,
        )

    @admin.display(description="Documents (for CPT)")
    def documents_link(self, project):
        if project.pk is None:
            return "-"
        totals = document_totals(project=project)
        listed = reverse("admin:labeling_document_changelist") + f"?project__id__exact={project.pk}"
        upload = reverse("admin:labeling_document_upload") + f"?project={project.pk}"
        return format_html(
            '<a href="{}">{} documents, {} characters</a> · <a href="{}">Upload documents…</a>',
            listed,
            totals["documents"],
            f"{totals['chars']:,}",
            upload,
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.quality_dashboard_view)
        dashboard = path("<path:object_id>/quality/", view, name="labeling_project_quality")
        return [dashboard, *super().get_urls()]

    def quality_dashboard_view(self, request, object_id):
        project = self.get_object(request, object_id)
        if project is None:
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "title": f"Quality: {project.name}",
            "opts": self.model._meta,
            "original": project,
            "dashboard": dashboard_for(project),
        }
        return TemplateResponse(request, "admin/quality/dashboard.html", context)

    def get_queryset(self, request):
        projects = projects_administered_by(user=request.user)
        return projects.annotate(_prompt_count=Count("prompts"))

    @admin.display(description="Prompts", ordering="_prompt_count")
    def prompt_count(self, project):
        return project._prompt_count

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        base_version_ensure(project=obj)
