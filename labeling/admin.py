from django.contrib import admin
from django.db.models import Count

from labeling.admin_scoping import ProjectScopedAdmin
from labeling.models import Completion, Demonstration, Membership, Project, Prompt
from labeling.selectors.projects import projects_administered_by


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
        ("Tasks", {"fields": ["task_kinds", "overlap"]}),
        (
            "Sampling",
            {"fields": ["completions_per_prompt", "temperature", "top_p", "max_tokens"]},
        ),
    ]

    def get_queryset(self, request):
        projects = projects_administered_by(user=request.user)
        return projects.annotate(_prompt_count=Count("prompts"))

    @admin.display(description="Prompts", ordering="_prompt_count")
    def prompt_count(self, project):
        return project._prompt_count

    def save_model(self, request, obj, form, change):
        from labeling.services.projects import base_version_ensure

        super().save_model(request, obj, form, change)
        base_version_ensure(project=obj)


@admin.register(Prompt)
class PromptAdmin(ProjectScopedAdmin):
    list_display = ["short_instruction", "project", "category", "language", "source", "created_at"]
    list_filter = ["project", "category", "language", "source"]
    search_fields = ["instruction", "input"]
    readonly_fields = ["dedupe_key", "created_at"]
    list_select_related = ["project"]
    show_full_result_count = False

    @admin.display(description="Instruction")
    def short_instruction(self, prompt):
        return prompt.instruction[:100]


@admin.register(Demonstration)
class DemonstrationAdmin(ProjectScopedAdmin):
    project_path = "prompt__project"
    list_display = ["short_output", "prompt", "origin", "author", "review_status", "created_at"]
    list_filter = ["origin", "review_status", "prompt__project"]
    search_fields = ["output", "prompt__instruction"]
    raw_id_fields = ["prompt", "source_completion"]
    list_select_related = ["prompt", "author"]

    @admin.display(description="Output")
    def short_output(self, demonstration):
        return demonstration.output[:100]


@admin.register(Completion)
class CompletionAdmin(ProjectScopedAdmin):
    project_path = "prompt__project"
    list_display = [
        "short_text", "model_version", "finish_reason", "completion_tokens", "latency_ms",
        "is_synthetic", "created_at",
    ]
    list_filter = ["model_version", "finish_reason", "is_synthetic", "prompt__project"]
    search_fields = ["text", "prompt__instruction"]
    raw_id_fields = ["prompt"]
    list_select_related = ["model_version", "model_version__project"]

    def has_change_permission(self, request, obj=None):
        return False  # completions are a record of what the model said

    @admin.display(description="Text")
    def short_text(self, completion):
        return completion.text[:100]
