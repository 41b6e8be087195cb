"""Training's admin: model versions (publish, roll back) and training runs (start, follow,
cancel).

A run starts from labeling's admin ("Start training run…" on a project, "Train on this
export…" on an export: labeling.admin.training_actions); those actions answer with the start
page of TrainingRunAdmin below, by its URL name, and every service call happens here.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from labeling.access import administered_only, projects_administered_by
from labeling.admin.scoping import ProjectScopedAdmin
from labeling.models import DatasetExport
from training.engine.schema import (
    METHOD_FOR_EXPORT_FORMAT,
    methods_for_export_format,
)
from training.models import ModelVersion, TrainingRun
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
    """A record of what runs made; only the services change it (publish, roll back).

    Nothing is editable: a status set by hand would skip loading the adapter on the servers,
    and the paths, names and lineage are what runs and the servers rely on. Versions are
    made only by runs. None is deleted: completions, runs and children keep their version
    (PROTECT), the live one is being served, and the next run would reuse a deleted newest
    one's number and stop at its adapter directory, still on disk.
    """

    list_display = ["__str__", "served_name", "status", "made_by", "parent", "created_at"]
    list_filter = ["status", "project"]
    search_fields = ["served_name", "project__name"]
    fields = readonly_fields = [
        "project",
        "number",
        "served_name",
        "status",
        "made_by",
        "parent",
        "replaced",
        "base_model_path",
        "adapter_path",
        "metrics",
        "created_at",
    ]
    list_select_related = ["project", "parent", "training_run"]
    actions = ["publish", "rollback"]

    def has_add_permission(self, request):
        return False  # runs make versions (training.services.runs)

    def has_change_permission(self, request, obj=None):
        return False  # publish and roll back are the actions below, through the services

    def has_delete_permission(self, request, obj=None):
        return False  # see the class docstring

    def has_publish_permission(self, request):
        return request.user.has_perm("training.change_modelversion")

    @admin.display(description=_("Made by"))
    def made_by(self, version):
        run = getattr(version, "training_run", None)  # None for the base model
        if run is None:
            return "-"
        return _("%(method)s run #%(run)s") % {"method": run.get_method_display(), "run": run.pk}

    @admin.action(description=_("Publish (make live)"), permissions=["publish"])
    def publish(self, request, queryset):
        self._each_version(request, queryset, model_version_publish, _("%(version)s is live."))

    @admin.action(description=_("Roll back to this version"), permissions=["publish"])
    def rollback(self, request, queryset):
        done = _("%(version)s is live again.")
        self._each_version(request, queryset, model_version_rollback, done)

    def _each_version(self, request, queryset, service, done):
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one version."), messages.WARNING)
            return
        version = queryset.get()
        try:
            version = service(version=version)
        except PublishError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, done % {"version": version.served_name}, messages.SUCCESS)


class TrainingRunStartForm(forms.Form):
    method = forms.ChoiceField(
        label=_("Method"), choices=TrainingRun.Method.choices, initial=TrainingRun.Method.DPO
    )
    snapshot_dir = forms.CharField(
        required=False,
        label=_("Export snapshot directory"),
        help_text=_("A dataset export's directory (manifest.json + train/validation/test.jsonl)."),
    )
    base_version = forms.ModelChoiceField(
        label=_("Base version"),
        queryset=ModelVersion.objects.none(),
        required=False,
        help_text=_(
            "Empty: the live version. The run continues its adapter; to start from the "
            'base model instead, set {"init_from_parent": false} in the overrides.'
        ),
    )
    reward_version = forms.ModelChoiceField(
        label=_("Reward version"),
        queryset=ModelVersion.objects.none(),
        required=False,
        help_text=_(
            "RLHF only: the reward model (a reward run's version) to optimise the policy "
            "against. Empty: the run trains one on the export first."
        ),
    )
    overrides = forms.JSONField(
        label=_("Overrides"),
        required=False,
        initial=dict,
        help_text=_('Preset overrides as JSON, e.g. {"max_steps": 4, "dpo": {"beta": 0.2}}.'),
    )
    publish = forms.ChoiceField(
        choices=TrainingRun.Publish.choices,
        initial=TrainingRun.Publish.IF_BETTER,
        required=False,
        label=_("When it succeeds"),
        help_text=_(
            "Better than the parent: on the held-out rows, compared with the version it "
            "starts from. Reward models are never published."
        ),
    )
    export = forms.ModelChoiceField(
        label=_("Export"), queryset=DatasetExport.objects.none(), required=False
    )

    def __init__(self, *args, project, methods=None, **kwargs):
        """`methods`: offer only these (the ones that train on the chosen export's format)."""
        super().__init__(*args, **kwargs)
        if methods is not None:
            self.fields["method"].choices = [(m, TrainingRun.Method(m).label) for m in methods]
        self.fields["base_version"].queryset = project.model_versions.all()
        self.fields["reward_version"].queryset = project.model_versions.filter(
            training_run__method=TrainingRun.Method.REWARD
        )
        self.fields["export"].queryset = DatasetExport.objects.filter(
            project=project, status=DatasetExport.Status.DONE
        )

    def clean_publish(self):
        return self.cleaned_data["publish"] or TrainingRun.Publish.IF_BETTER

    def clean_overrides(self):
        value = self.cleaned_data["overrides"] or {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Give a JSON object."))
        return value


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

    @admin.display(description=_("Step"))
    def step_of_total(self, run):
        return f"{run.step} / {run.total_steps}" if run.total_steps else "-"

    def has_add_permission(self, request):
        return False  # runs start from a project: "Start training run…"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        start = [
            path(
                "start/project/<int:project_id>/",
                wrap(self.start_view),
                name="training_trainingrun_start",
            ),
            path(
                "start/export/<int:export_id>/",
                wrap(self.start_from_export_view),
                name="training_trainingrun_start_from_export",
            ),
        ]
        return [*start, *super().get_urls()]

    def start_view(self, request, project_id):
        """The page of "Start training run…" on a project (the project admin's action)."""
        projects = projects_administered_by(user=request.user)
        project = get_object_or_404(projects, pk=project_id)
        return self._start_page(
            request,
            project,
            action="start_training_run",
            selected=project,
            back="admin:labeling_project_changelist",
        )

    def start_from_export_view(self, request, export_id):
        """The same form from a finished export, with the method that fits its format."""
        done = DatasetExport.objects.filter(status=DatasetExport.Status.DONE)
        exports = administered_only(done.select_related("project"), user=request.user)
        export = get_object_or_404(exports, pk=export_id)
        method = METHOD_FOR_EXPORT_FORMAT.get(export.format, TrainingRun.Method.SFT)
        return self._start_page(
            request,
            export.project,
            action="train_on_export",
            selected=export,
            back="admin:labeling_datasetexport_changelist",
            initial={"export": export, "method": method},
            methods=methods_for_export_format(export.format),
        )

    def _start_page(self, request, project, *, action, selected, back, initial=None, methods=None):
        """The form until it is valid, then training_run_create and the new run's page."""
        bound = request.POST if "apply" in request.POST else None
        form = TrainingRunStartForm(bound, project=project, initial=initial, methods=methods)
        if form.is_valid():
            data = form.cleaned_data
            try:
                run = training_run_create(
                    project=project,
                    method=data["method"],
                    export=data["export"],
                    snapshot_dir=data["snapshot_dir"] or None,
                    base_version=data["base_version"],
                    reward_version=data["reward_version"],
                    overrides=data["overrides"],
                    publish=data["publish"],
                    created_by=request.user,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                self.message_user(request, _("Queued %(run)s.") % {"run": run}, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:training_trainingrun_change", args=[run.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "project": project,
            "form": form,
            "title": _("Start training run"),
            "action": action,
            "selected": selected.pk,
            "back_url": reverse(back),
        }
        return TemplateResponse(request, "admin/training/start_training_run.html", context)

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

    @admin.action(description=_("Cancel selected runs"))
    def cancel_runs(self, request, queryset):
        for run in queryset:
            if run.is_active:
                training_run_cancel(run=run)
        self.message_user(request, _("Cancellation requested."), messages.INFO)
