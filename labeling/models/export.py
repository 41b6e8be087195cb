import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from labeling.models.project import Project


class DatasetExport(models.Model):
    """An immutable dataset snapshot: what was asked for, and the files that came out.

    Written only by labeling.services.exports. The files live under EXPORTS_DIR/<slug>/<uid>/
    (manifest.json + one file per split); training runs read them, never the live tables.
    """

    class Format(models.TextChoices):
        ALPACA = "alpaca", _("Alpaca (instruction, input, output)")
        DOLLY = "dolly", _("Dolly (instruction, context, response, category)")
        MESSAGES = "messages", _("Messages (conversational SFT, OpenAI fine-tuning)")
        PREFERENCE = "preference", _("Preference pairs (prompt, chosen, rejected)")
        KTO = "kto", _("KTO (prompt, completion, label)")
        TEXT = "text", _("Plain text through the project's template")
        DOCUMENTS = "documents", _("Documents (domain text for continued pre-training)")

    class Rule(models.TextChoices):
        ALL = "all", _("Every annotator's preferences")
        MAJORITY = "majority", _("Majority vote per pair of completions")
        BRADLEY_TERRY = "bradley_terry", _("Bradley-Terry order fitted per prompt")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    uid = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text=_("Names the snapshot directory, so that two databases' exports never meet."),
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=16, choices=Format.choices)
    rule = models.CharField(
        max_length=16,
        choices=Rule.choices,
        default=Rule.ALL,
        help_text=_("How the judgements of several annotators of one prompt become preferences."),
    )
    filters = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "date_from, date_to, annotators, model_versions, review_status, min_agreement."
        ),
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("require_accepted, kto_from_rankings, conversational, near_duplicates."),
    )
    split_train = models.FloatField(default=0.9)
    split_validation = models.FloatField(default=0.05)
    split_test = models.FloatField(default=0.05)
    seed = models.BigIntegerField(default=0, help_text=_("Seed of the split by prompt."))
    parquet = models.BooleanField(
        default=False, help_text=_("Parquet files instead of JSON Lines.")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rows_train = models.PositiveIntegerField(default=0)
    rows_validation = models.PositiveIntegerField(default=0)
    rows_test = models.PositiveIntegerField(default=0)
    manifest = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=500, blank=True, help_text=_("The snapshot directory."))
    content_hash = models.CharField(
        max_length=64, blank=True, help_text=_("SHA-256 over the SHA-256 of every file.")
    )
    code_version = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dataset_exports",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "status"], name="export_project_status_idx")]

    def __str__(self) -> str:
        return f"{self.project.slug} export #{self.pk} ({self.format})"

    @property
    def split(self) -> tuple[float, float, float]:
        return (self.split_train, self.split_validation, self.split_test)

    @property
    def rows_total(self) -> int:
        return self.rows_train + self.rows_validation + self.rows_test

    @property
    def directory(self) -> Path | None:
        """The snapshot directory once the export is done; None before."""
        return Path(self.path) if self.path and self.status == self.Status.DONE else None
