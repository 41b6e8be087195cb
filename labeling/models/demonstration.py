from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from labeling.models.prompt import MAX_OUTPUT_CHARS, Prompt


class Demonstration(models.Model):
    """The SFT unit: a prompt and the output a person wants the model to give."""

    class Origin(models.TextChoices):
        IMPORTED = "imported", _("Imported reference")
        WRITTEN = "written", _("Written from scratch")
        ANSWERED = "answered", _("Answer to a given prompt")
        EDITED = "edited", _("Edited model completion")

    class ReviewStatus(models.TextChoices):
        PENDING = "pending", _("Pending review")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")

    prompt = models.ForeignKey(
        Prompt, verbose_name=_("prompt"), on_delete=models.CASCADE, related_name="demonstrations"
    )
    output = models.TextField(verbose_name=_("output"), max_length=MAX_OUTPUT_CHARS)
    origin = models.CharField(verbose_name=_("origin"), max_length=16, choices=Origin.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="demonstrations",
    )
    source_completion = models.ForeignKey(
        "labeling.Completion",
        verbose_name=_("source completion"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="edits",
        help_text=_("For edits: the model completion the annotator started from."),
    )
    rejected_output = models.TextField(
        verbose_name=_("rejected output"),
        blank=True,
        max_length=MAX_OUTPUT_CHARS,
        help_text=_(
            "An imported preference's rejected answer (HH-RLHF's rejected conversation): the "
            "preference export pairs the output over it. Empty for most demonstrations."
        ),
    )
    drafted_by = models.CharField(
        verbose_name=_("drafted by"),
        max_length=200,
        blank=True,
        help_text=_("The model whose draft the output started from; empty: written by people."),
    )
    edit_distance = models.PositiveIntegerField(
        verbose_name=_("edit distance"),
        null=True,
        blank=True,
        help_text=_("Characters the annotator changed in that draft."),
    )
    review_status = models.CharField(
        verbose_name=_("review status"),
        max_length=16,
        choices=ReviewStatus.choices,
        default=ReviewStatus.PENDING,
    )
    review_reason = models.TextField(
        verbose_name=_("review reason"),
        blank=True,
        help_text=_("Why it was rejected or corrected; shown to the author."),
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_demonstrations",
    )
    reviewed_at = models.DateTimeField(verbose_name=_("reviewed at"), null=True, blank=True)
    original_output = models.TextField(
        verbose_name=_("original output"),
        blank=True,
        max_length=MAX_OUTPUT_CHARS,
        help_text=_("The author's output before a reviewer corrected it; empty if uncorrected."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["prompt", "origin"])]
        verbose_name = _("demonstration")
        verbose_name_plural = _("demonstrations")

    def __str__(self) -> str:
        return f"{self.get_origin_display()}: {self.output[:60]}"
