from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from labeling.admin import DatasetExportAdmin, ProjectAdmin
from labeling.admin_scoping import ProjectScopedAdmin
from training.models import ModelServer, ModelVersion, TrainingRun
from training.selectors.runs import run_progress
from training.services.runs import (
    training_run_cancel,
    training_run_create,
    training_runs_fail_stale,
)
from training.services.versions import (
    PublishError,
    model_version_publish,
    model_version_rollback,
)


@admin.register(ModelVersion)
class ModelVersionAdmin(ProjectScopedAdmin):
    list_display = ["__str__", "served_name", "status", "parent", "created_at"]
    list_filter = ["status", "project"]
    search_fields = ["served_name", "project__name"]
    readonly_fields = ["created_at"]
    list_select_related = ["project", "parent"]
    actions = ["publish", "rollback"]

    @admin.action(description="Publish (make live)")
    def publish(self, request, queryset):
        self._each_version(request, queryset, model_version_publish, "is live")

    @admin.action(description="Roll back to this version")
    def rollback(self, request, queryset):
        self._each_version(request, queryset, model_version_rollback, "is live again")

    def _each_version(self, request, queryset, service, done):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one version.", messages.WARNING)
            return
        version = queryset.get()
        try:
            version = service(version=version)
        except PublishError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"{version.served_name} {done}.", messages.SUCCESS)


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


class TrainingRunStartForm(forms.Form):
    method = forms.ChoiceField(choices=TrainingRun.Method.choices, initial="dpo")
    snapshot_dir = forms.CharField(
        required=False,
        label="Export snapshot directory",
        help_text="A dataset export's directory (manifest.json + train/validation/test.jsonl).",
    )
    base_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.none(),
        required=False,
        help_text="Empty: the live version. Adapters stack on the base model only.",
    )
    overrides = forms.JSONField(
        required=False,
        initial=dict,
        help_text='Preset overrides as JSON, e.g. {"max_steps": 4, "dpo": {"beta": 0.2}}.',
    )
    publish = forms.ChoiceField(
        choices=TrainingRun.Publish.choices,
        initial=TrainingRun.Publish.IF_BETTER,
        required=False,
        label="When it succeeds",
        help_text="Better than the parent: on the held-out rows, compared with the version it "
        "starts from. Reward models are never published.",
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_version"].queryset = project.model_versions.all()
        export_model = _dataset_export_model()
        if export_model is not None:
            self.fields["export"] = forms.ModelChoiceField(
                queryset=export_model.objects.filter(project=project, status="done"),
                required=False,
            )

    def clean_publish(self):
        return self.cleaned_data["publish"] or TrainingRun.Publish.IF_BETTER

    def clean_overrides(self):
        value = self.cleaned_data["overrides"] or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object.")
        return value


def _dataset_export_model():
    try:
        return apps.get_model("labeling", "DatasetExport")
    except LookupError:
        return None


# The method that fits each export format, preselected when training starts from an export.
METHOD_FOR_FORMAT = {
    "preference": "dpo",
    "kto": "kto",
    "alpaca": "sft",
    "dolly": "sft",
    "messages": "sft",
    "text": "cpt",
}


@admin.action(description="Start training run…")
def start_training_run(modeladmin, request, queryset):
    """Intermediate form → training_run_create (one project at a time)."""
    if queryset.count() != 1:
        modeladmin.message_user(request, "Choose exactly one project.", messages.WARNING)
        return None
    project = queryset.get()
    return _start_form(modeladmin, request, project, action="start_training_run", selected=project)


@admin.action(description="Train on this export…")
def train_on_export(modeladmin, request, queryset):
    """The same form, with the export and the method that fits its format chosen."""
    if queryset.count() != 1:
        modeladmin.message_user(request, "Choose exactly one export.", messages.WARNING)
        return None
    export = queryset.select_related("project").get()
    if export.status != "done":
        modeladmin.message_user(
            request, f"Export #{export.pk} is {export.status}, not done.", messages.WARNING
        )
        return None
    initial = {"export": export, "method": METHOD_FOR_FORMAT.get(export.format, "sft")}
    return _start_form(
        modeladmin,
        request,
        export.project,
        action="train_on_export",
        selected=export,
        initial=initial,
    )


def _start_form(modeladmin, request, project, *, action, selected, initial=None):
    bound = request.POST if "apply" in request.POST else None
    form = TrainingRunStartForm(bound, project=project, initial=initial)
    if form.is_valid():
        data = form.cleaned_data
        try:
            run = training_run_create(
                project=project,
                method=data["method"],
                export=data.get("export"),
                snapshot_dir=data["snapshot_dir"] or None,
                base_version=data["base_version"],
                overrides=data["overrides"],
                publish=data["publish"],
                created_by=request.user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            modeladmin.message_user(request, f"Queued {run}.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:training_trainingrun_change", args=[run.pk]))
    opts = modeladmin.model._meta
    return TemplateResponse(
        request,
        "admin/training/start_training_run.html",
        {
            **modeladmin.admin_site.each_context(request),
            "project": project,
            "form": form,
            "title": "Start training run",
            "action": action,
            "selected": selected.pk,
            "back_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        },
    )


ProjectAdmin.actions = [*(ProjectAdmin.actions or []), start_training_run]
DatasetExportAdmin.actions = [*(DatasetExportAdmin.actions or []), train_on_export]


@admin.register(TrainingRun)
class TrainingRunAdmin(ProjectScopedAdmin):
    list_display = ["__str__", "project", "method", "status", "step_of_total", "loss", "started_at"]
    list_filter = ["status", "method", "project"]
    list_select_related = ["project", "base_version", "result_version"]
    readonly_fields = [
        "project",
        "method",
        "config",
        "export",
        "snapshot_dir",
        "base_version",
        "publish",
        "status",
        "result_version",
        "step",
        "total_steps",
        "loss",
        "heartbeat_at",
        "cancel_requested",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "error",
    ]
    exclude = ["history", "log", "metrics", "gate"]
    actions = ["cancel_runs"]

    @admin.display(description="Step")
    def step_of_total(self, run):
        return f"{run.step} / {run.total_steps}" if run.total_steps else "-"

    def has_add_permission(self, request):
        return False  # runs start from a project: "Start training run…"

    def changelist_view(self, request, extra_context=None):
        training_runs_fail_stale()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            **(extra_context or {}),
        }
        if run is not None:
            extra["progress"] = run_progress(run)
        return super().change_view(request, object_id, form_url, extra)

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request, queryset):
        for run in queryset:
            if run.is_active:
                training_run_cancel(run=run)
        self.message_user(request, "Cancellation requested.", messages.INFO)
