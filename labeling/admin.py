from django.contrib import admin
from django.db.models import Count

from labeling.admin_scoping import ProjectScopedAdmin
from labeling.models import (
    Assignment,
    Completion,
    Demonstration,
    Judgement,
    Membership,
    Project,
    Prompt,
)
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


# --- the annotation queue: a record of who did what; changed only through the services ---


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


@admin.register(Judgement)
class JudgementAdmin(ProjectScopedAdmin):
    project_path = "prompt__project"
    list_display = [
        "kind", "outcome", "choice", "annotator", "prompt", "time_spent_ms", "created_at",
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
