import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from labeling.models.completion import Completion
from labeling.models.demonstration import Demonstration
from labeling.models.project import Project, TaskKind
from labeling.models.prompt import Prompt
from labeling.models.queue import QueueItem


class Assignment(models.Model):
    """Who holds which task until when. The lock (expires_at) and the overlap live here."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUBMITTED = "submitted", _("Submitted")
        SKIPPED = "skipped", _("Skipped")
        EXPIRED = "expired", _("Expired")
        # Claimed for the annotator as their next task while they work on the current one
        # (the workspace holds it off-screen); it becomes active when shown.
        PRELOADED = "preloaded", _("Preloaded")

    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="assignments"
    )
    prompt = models.ForeignKey(
        Prompt,
        verbose_name=_("prompt"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assignments",
        help_text=_("Empty for write tasks: the annotator writes the prompt."),
    )
    item = models.ForeignKey(
        QueueItem,
        verbose_name=_("item"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assignments",
        help_text=_("The queue slot this assignment holds; empty for write tasks."),
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("annotator"),
        on_delete=models.CASCADE,
        related_name="assignments",
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=TaskKind.choices)
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    token = models.UUIDField(
        verbose_name=_("token"), default=uuid.uuid4, unique=True, editable=False
    )
    completion_ids = models.JSONField(
        verbose_name=_("completion IDs"),
        default=list,
        blank=True,
        help_text=_("Completions shown, in display order."),
    )
    left_completion = models.ForeignKey(
        Completion,
        verbose_name=_("left completion"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    right_completion = models.ForeignKey(
        Completion,
        verbose_name=_("right completion"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    demonstration = models.OneToOneField(
        Demonstration,
        verbose_name=_("demonstration"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assignment",
        help_text=_("What a write, answer or edit task produced."),
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    skip_reason = models.TextField(verbose_name=_("skip reason"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    submitted_at = models.DateTimeField(verbose_name=_("submitted at"), null=True, blank=True)
    time_spent_ms = models.PositiveIntegerField(
        verbose_name=_("time spent (ms)"), null=True, blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "item"],
                condition=Q(item__isnull=False),
                name="assignment_once_per_annotator",
            ),
            models.UniqueConstraint(
                fields=["project", "annotator"],
                condition=Q(status="active"),
                name="assignment_one_active_per_annotator",
            ),
            models.UniqueConstraint(
                fields=["project", "annotator"],
                condition=Q(status="preloaded"),
                name="assignment_one_preloaded_per_annotator",
            ),
        ]
        indexes = [
            models.Index(
                fields=["project", "expires_at"],
                condition=Q(status="active"),
                name="assignment_active_expiry_idx",
            ),
            models.Index(
                fields=["project", "expires_at"],
                condition=Q(status="preloaded"),
                name="assignment_preload_expiry_idx",
            ),
            models.Index(
                fields=["annotator", "project", "status", "submitted_at"],
                name="assignment_progress_idx",
            ),
            models.Index(fields=["annotator", "project", "id"], name="assignment_latest_idx"),
        ]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")

    def __str__(self) -> str:
        return gettext("%(kind)s for %(annotator)s (%(status)s)") % {
            "kind": self.get_kind_display(),
            "annotator": self.annotator,
            "status": self.get_status_display(),
        }
