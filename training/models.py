from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from training.engine.schema import METHOD_LABELS


class ModelVersion(models.Model):
    """A servable model of one project: the base model (number 0) or a LoRA adapter on it."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("Candidate")
        LIVE = "live", _("Live")
        RETIRED = "retired", _("Retired")

    project = models.ForeignKey(
        "labeling.Project",
        verbose_name=_("project"),
        on_delete=models.CASCADE,
        related_name="model_versions",
    )
    number = models.PositiveIntegerField(
        verbose_name=_("number"), help_text=_("k in <project>-v<k>; 0 is the base model.")
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    base_model_path = models.CharField(verbose_name=_("base model path"), max_length=500)
    adapter_path = models.CharField(
        verbose_name=_("adapter path"),
        max_length=500,
        blank=True,
        help_text=_("LoRA adapter directory; empty for the base model."),
    )
    served_name = models.CharField(
        verbose_name=_("served name"),
        max_length=200,
        help_text=_("The model name requests use on the vLLM server."),
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.CANDIDATE
    )
    metrics = models.JSONField(verbose_name=_("metrics"), default=dict, blank=True)
    replaced = models.ForeignKey(
        "self",
        verbose_name=_("replaced"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "The version that was live when this one last went live: what annotators "
            "compare it with."
        ),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(status="live"), name="one_live_version_per_project"
            ),
        ]
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")

    def __str__(self) -> str:
        return f"{self.project.slug}-v{self.number} ({self.get_status_display()})"

    @property
    def is_adapter(self) -> bool:
        return bool(self.adapter_path)


class TrainingRun(models.Model):
    """One training job: a method on an export snapshot, from a base version, to a candidate
    that its publish policy may make live (`gate` records the decision).

    Rows are written only by training.services.runs; the worker updates progress and the
    heartbeat while it trains, so the admin can show a live view and spot a dead worker.
    """

    # The engine keeps the one list of methods; TrainingRun.Method.DPO == "dpo" as before.
    Method = models.TextChoices(
        "Method",
        [(name.upper(), (name, _(label))) for name, label in METHOD_LABELS.items()],
        module=__name__,
        qualname="TrainingRun.Method",
    )

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Publish(models.TextChoices):
        MANUAL = "manual", _("Keep as candidate")
        ALWAYS = "always", _("Publish when it succeeds")
        IF_BETTER = "if_better", _("Publish only if better than the parent")

    project = models.ForeignKey(
        "labeling.Project",
        verbose_name=_("project"),
        on_delete=models.CASCADE,
        related_name="training_runs",
    )
    method = models.CharField(verbose_name=_("method"), max_length=16, choices=Method.choices)
    config = models.JSONField(
        verbose_name=_("config"),
        default=dict,
        blank=True,
        help_text=_("Overrides of the method's preset (dotted or nested)."),
    )
    export = models.ForeignKey(
        "labeling.DatasetExport",
        verbose_name=_("export"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="training_runs",
        help_text=_("The dataset export trained on (its snapshot directory is snapshot_dir)."),
    )
    snapshot_dir = models.CharField(
        verbose_name=_("snapshot dir"),
        max_length=500,
        help_text=_("Export snapshot directory (manifest.json + *.jsonl)."),
    )
    base_version = models.ForeignKey(
        ModelVersion,
        verbose_name=_("base version"),
        on_delete=models.PROTECT,
        related_name="training_runs_from",
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    step = models.PositiveIntegerField(verbose_name=_("step"), default=0)
    total_steps = models.PositiveIntegerField(verbose_name=_("total steps"), default=0)
    loss = models.FloatField(verbose_name=_("loss"), null=True, blank=True)
    metrics = models.JSONField(
        verbose_name=_("metrics"), default=dict, blank=True, help_text=_("Latest logged metrics.")
    )
    history = models.JSONField(
        verbose_name=_("history"), default=list, blank=True, help_text=_("Every progress event.")
    )
    log = models.TextField(
        verbose_name=_("log"), blank=True, help_text=_("The last lines of the run's log.")
    )
    error = models.TextField(verbose_name=_("error"), blank=True)
    heartbeat_at = models.DateTimeField(verbose_name=_("heartbeat at"), null=True, blank=True)
    cancel_requested = models.BooleanField(verbose_name=_("cancel requested"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(verbose_name=_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)
    result_version = models.OneToOneField(
        ModelVersion,
        verbose_name=_("result version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="training_run",
    )
    # Runs made before the policy existed were all kept as candidates, hence this default;
    # the admin form, the API and `manage.py train` default to IF_BETTER.
    publish = models.CharField(
        verbose_name=_("publish"),
        max_length=16,
        choices=Publish.choices,
        default=Publish.MANUAL,
        help_text=_("What happens to the new version when the run succeeds."),
    )
    gate = models.JSONField(
        verbose_name=_("gate"),
        default=dict,
        blank=True,
        help_text=_(
            "The publish decision: the metric compared with the parent version, both "
            "values, the verdict, whether it went live and why."
        ),
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")

    def __str__(self) -> str:
        return f"{self.project.slug} {self.method} #{self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
