from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from labeling.admin_scoping import ProjectScopedAdmin
from labeling.exports.split import parse_split_ratios
from labeling.models import (
    Assignment,
    Completion,
    DatasetExport,
    Demonstration,
    Judgement,
    Membership,
    Project,
    Prompt,
)
from labeling.selectors.projects import projects_administered_by
from labeling.services.exports import (
    DatasetExportRefused,
    dataset_export_again,
    dataset_export_create,
    dataset_export_enqueue,
    dataset_exports_fail_stale,
)


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
        ("Quality", {"fields": ["gold_share", "compare_share", "quality_dashboard_link"]}),
    ]
    readonly_fields = ["quality_dashboard_link"]

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

    def get_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view(self.quality_dashboard_view)
        dashboard = path("<path:object_id>/quality/", view, name="labeling_project_quality")
        return [dashboard, *super().get_urls()]

    def quality_dashboard_view(self, request, object_id):
        from django.http import Http404

        from labeling.selectors.quality import dashboard_for

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
        from labeling.services.projects import base_version_ensure

        super().save_model(request, obj, form, change)
        base_version_ensure(project=obj)


class PromptAdminForm(forms.ModelForm):
    class Meta:
        model = Prompt
        fields = ["gold_verdict"]  # the admin adds the others

    def clean(self):
        from labeling.services.gold import gold_verdict_check

        cleaned = super().clean()
        if self.instance.pk is not None:
            gold_verdict_check(prompt=self.instance, verdict=cleaned.get("gold_verdict"))
        return cleaned


@admin.register(Prompt)
class PromptAdmin(ProjectScopedAdmin):
    form = PromptAdminForm
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
    readonly_fields = ["original_output", "reviewed_by", "reviewed_at"]
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


# --- dataset exports: requested from a project ("Export dataset…"), read-only afterwards ---


class DatasetExportForm(forms.Form):
    """The intermediate page of "Export dataset…": format, rule, split, seed, filters."""

    format = forms.ChoiceField(choices=DatasetExport.Format.choices)
    rule = forms.ChoiceField(
        choices=DatasetExport.Rule.choices,
        initial=DatasetExport.Rule.ALL,
        help_text="Several annotators per prompt: keep every preference, a majority vote per "
        "pair, or the order a Bradley-Terry fit gives.",
    )
    split = forms.CharField(initial="0.9,0.05,0.05", help_text="train,validation,test")
    seed = forms.IntegerField(initial=0, help_text="The same seed gives the same split.")
    parquet = forms.BooleanField(required=False, help_text="Parquet files instead of JSONL.")
    conversational = forms.BooleanField(
        required=False, initial=True, help_text="Preference/KTO: messages rather than plain text."
    )
    require_accepted = forms.BooleanField(
        required=False, help_text="Only demonstrations a reviewer accepted."
    )
    kto_from_rankings = forms.BooleanField(
        required=False, help_text="KTO: also the top and the bottom of rankings."
    )
    date_from = forms.DateField(required=False, help_text="Judgements/demonstrations from.")
    date_to = forms.DateField(required=False, help_text="… up to and including.")
    annotators = forms.ModelMultipleChoiceField(queryset=None, required=False)
    model_versions = forms.TypedMultipleChoiceField(coerce=int, required=False)
    review_status = forms.MultipleChoiceField(
        choices=Demonstration.ReviewStatus.choices,
        required=False,
        help_text="Empty: pending and accepted.",
    )
    min_agreement = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="Drop prompts whose annotators agree less (share agreeing with the majority).",
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["annotators"].queryset = project.members.order_by("username")
        self.fields["model_versions"].choices = [
            (version.number, str(version)) for version in project.model_versions.all()
        ]

    def clean_split(self):
        try:
            return parse_split_ratios(self.cleaned_data["split"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def export_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "format": data["format"],
            "rule": data["rule"],
            "split": data["split"],
            "seed": data["seed"],
            "parquet": data["parquet"],
            "filters": {
                "date_from": data["date_from"].isoformat() if data["date_from"] else None,
                "date_to": data["date_to"].isoformat() if data["date_to"] else None,
                "annotators": [user.pk for user in data["annotators"]],
                "model_versions": data["model_versions"],
                "review_status": data["review_status"],
                "min_agreement": data["min_agreement"],
            },
            "options": {
                "conversational": data["conversational"],
                "require_accepted": data["require_accepted"],
                "kto_from_rankings": data["kto_from_rankings"],
            },
        }


@admin.action(description="Export dataset…")
def export_dataset(modeladmin, request, queryset):
    """Intermediate form → dataset_export_create + enqueue (one project at a time)."""
    if not request.user.has_perm("labeling.add_datasetexport"):
        modeladmin.message_user(request, "You may not export datasets.", messages.ERROR)
        return None
    if queryset.count() != 1:
        modeladmin.message_user(request, "Choose exactly one project.", messages.WARNING)
        return None
    project = queryset.get()
    form = DatasetExportForm(request.POST if "apply" in request.POST else None, project=project)
    if form.is_valid():
        try:
            export = dataset_export_create(
                project=project, created_by=request.user, **form.export_arguments()
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            dataset_export_enqueue(export=export)
            modeladmin.message_user(
                request, f"Queued export #{export.pk} of {project}.", messages.SUCCESS
            )
            url = reverse("admin:labeling_datasetexport_change", args=[export.pk])
            return HttpResponseRedirect(url)
    return TemplateResponse(
        request,
        "admin/labeling/export_dataset.html",
        {
            **modeladmin.admin_site.each_context(request),
            "project": project,
            "form": form,
            "title": f"Export dataset of {project}",
        },
    )


ProjectAdmin.actions = [*(ProjectAdmin.actions or []), export_dataset]
ProjectAdmin.fieldsets = [*ProjectAdmin.fieldsets, ("Exports", {"fields": ["text_template"]})]


@admin.register(DatasetExport)
class DatasetExportAdmin(ProjectScopedAdmin):
    """Read-only: an export is an immutable snapshot, requested from its project's page."""

    list_display = [
        "__str__", "format", "rule", "status", "rows_total", "created_by", "created_at",
        "finished_at",
    ]
    list_filter = ["status", "format", "project"]
    list_select_related = ["project", "created_by"]
    fields = [
        "project", "format", "rule", "status", "error", "rows", "figures", "downloads",
        "content_hash", "code_version", "path", "filters", "options", "split_seed", "parquet",
        "created_by", "created_at", "started_at", "finished_at",
    ]
    readonly_fields = fields
    actions = ["export_again"]

    def has_add_permission(self, request):
        return False  # exports start from a project: "Export dataset…"

    def changelist_view(self, request, extra_context=None):
        dataset_exports_fail_stale()  # a dead worker's export shows failed, not running
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dataset_exports_fail_stale()
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Export again")
    def export_again(self, request, queryset):
        """A new export with each failed export's settings, queued for the worker."""
        if not request.user.has_perm("labeling.add_datasetexport"):
            self.message_user(request, "You may not export datasets.", messages.ERROR)
            return
        for export in queryset.select_related("project"):
            try:
                again = dataset_export_again(export=export, created_by=request.user)
            except DatasetExportRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
            except ValidationError as exc:  # its filters name something gone since
                reason = " ".join(exc.messages)
                self.message_user(request, f"Export #{export.pk}: {reason}", messages.WARNING)
            else:
                self.message_user(
                    request, f"Queued export #{export.pk} again as #{again.pk}.", messages.SUCCESS
                )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # training runs refer to snapshots by their files

    @admin.display(description="Rows")
    def rows_total(self, export):
        return export.rows_total

    @admin.display(description="Rows per split")
    def rows(self, export):
        return (
            f"{export.rows_total} (train {export.rows_train}, validation "
            f"{export.rows_validation}, test {export.rows_test})"
        )

    @admin.display(description="Split and seed")
    def split_seed(self, export):
        ratios = f"{export.split_train}/{export.split_validation}/{export.split_test}"
        return f"{ratios}, seed {export.seed}"

    @admin.display(description="Figures")
    def figures(self, export):
        manifest = export.manifest or {}
        sections = ("prompts", "duplicates", "personal_data", "agreement", "sources")
        return format_html_join(
            "",
            "<p><strong>{}</strong>: {}</p>",
            (
                (section.replace("_", " ").capitalize(), _figures_line(manifest[section]))
                for section in sections
                if manifest.get(section)
            ),
        ) or "-"

    @admin.display(description="Files")
    def downloads(self, export):
        if export.directory is None:
            return "-"
        names = ["manifest.json", *sorted((export.manifest or {}).get("files", {}))]
        files = (export.manifest or {}).get("files", {})
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> {}',
            (
                (
                    reverse("labeling:export_file", args=[export.pk, name]),
                    name,
                    _file_note(files.get(name)),
                )
                for name in names
            ),
        )


def _figures_line(values) -> str:
    if not isinstance(values, dict):
        return str(values)
    return ", ".join(
        f"{key.replace('_', ' ')} {value}" for key, value in values.items() if key != "measure"
    )


def _file_note(entry: dict | None) -> str:
    if not entry:
        return ""
    return f"({entry['rows']} rows, sha256 {entry['sha256'][:16]}…)"
