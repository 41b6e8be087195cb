import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
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
        verbose_name=_("UID"),
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text=_("Names the snapshot directory, so that two databases' exports never meet."),
    )
    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="exports"
    )
    format = models.CharField(verbose_name=_("format"), max_length=16, choices=Format.choices)
    rule = models.CharField(
        verbose_name=_("rule"),
        max_length=16,
        choices=Rule.choices,
        default=Rule.ALL,
        help_text=_("How the judgements of several annotators of one prompt become preferences."),
    )
    filters = models.JSONField(
        verbose_name=_("filters"),
        default=dict,
        blank=True,
        help_text=_(
            "date_from, date_to, annotators, model_versions, review_status, min_agreement."
        ),
    )
    options = models.JSONField(
        verbose_name=_("options"),
        default=dict,
        blank=True,
        help_text=_("require_accepted, kto_from_rankings, conversational, near_duplicates."),
    )
    split_train = models.FloatField(verbose_name=_("split train"), default=0.9)
    split_validation = models.FloatField(verbose_name=_("split validation"), default=0.05)
    split_test = models.FloatField(verbose_name=_("split test"), default=0.05)
    seed = models.BigIntegerField(
        verbose_name=_("seed"), default=0, help_text=_("Seed of the split by prompt.")
    )
    parquet = models.BooleanField(
        verbose_name=_("parquet"),
        default=False,
        help_text=_("Parquet files instead of JSON Lines."),
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    rows_train = models.PositiveIntegerField(verbose_name=_("rows train"), default=0)
    rows_validation = models.PositiveIntegerField(verbose_name=_("rows validation"), default=0)
    rows_test = models.PositiveIntegerField(verbose_name=_("rows test"), default=0)
    manifest = models.JSONField(verbose_name=_("manifest"), default=dict, blank=True)
    path = models.CharField(
        verbose_name=_("path"), max_length=500, blank=True, help_text=_("The snapshot directory.")
    )
    content_hash = models.CharField(
        verbose_name=_("content hash"),
        max_length=64,
        blank=True,
        help_text=_("SHA-256 over the SHA-256 of every file."),
    )
    code_version = models.CharField(verbose_name=_("code version"), max_length=64, blank=True)
    error = models.TextField(verbose_name=_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dataset_exports",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(verbose_name=_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "status"], name="export_project_status_idx")]
        verbose_name = _("dataset export")
        verbose_name_plural = _("dataset exports")

    def __str__(self) -> str:
        return gettext("%(project)s export #%(export)s (%(format)s)") % {
            "project": self.project.slug,
            "export": self.pk,
            "format": self.format,
        }

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
