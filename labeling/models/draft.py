"""Drafts a model proposed and nobody has reviewed yet, and the jobs that make them.

A DraftPrompt is not a Prompt: nothing unreviewed reaches the queue, generation or exports.
An accepted (or edited) draft becomes a Prompt through labeling.services.drafting.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from labeling.models.project import Project
from labeling.models.prompt import MAX_INPUT_CHARS, MAX_INSTRUCTION_CHARS, MAX_SHORT_CHARS, Prompt


class DraftingJob(models.Model):
    """One "Draft instructions…" or "Draft answers…" request and how far its worker got."""

    class Kind(models.TextChoices):
        INSTRUCTIONS = "instructions", _("Draft instructions")
        ANSWERS = "answers", _("Draft answers")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        WAITING = "waiting", _("Waiting for the drafting server")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="drafting_jobs"
    )
    kind = models.CharField(
        verbose_name=_("kind"), max_length=16, choices=Kind.choices, default=Kind.INSTRUCTIONS
    )
    count = models.PositiveIntegerField(
        verbose_name=_("count"), help_text=_("How many drafts were asked for.")
    )
    categories = models.JSONField(
        verbose_name=_("categories"),
        default=list,
        blank=True,
        help_text=_("Categories to draft in (empty: the project's)."),
    )
    temperature = models.FloatField(verbose_name=_("temperature"), default=0.9)
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    drafted = models.PositiveIntegerField(
        verbose_name=_("drafted"), default=0, help_text=_("Drafts stored so far.")
    )
    dropped = models.PositiveIntegerField(
        verbose_name=_("dropped"),
        default=0,
        help_text=_("Proposals dropped as near-duplicates of prompts or drafts."),
    )
    requests = models.PositiveIntegerField(verbose_name=_("requests"), default=0)
    attempts = models.PositiveIntegerField(
        verbose_name=_("attempts"),
        default=0,
        help_text=_("Rounds the drafting server did not answer in a row."),
    )
    model_name = models.CharField(
        verbose_name=_("model name"), max_length=200, blank=True, help_text=_("The drafting model.")
    )
    message = models.TextField(
        verbose_name=_("message"), blank=True, help_text=_("The last thing the worker reported.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drafting_jobs",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(verbose_name=_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("drafting job")
        verbose_name_plural = _("drafting jobs")

    def __str__(self) -> str:
        return gettext("%(project)s drafting job #%(job)s (%(kind)s)") % {
            "project": self.project.slug,
            "job": self.pk,
            "kind": self.kind,
        }


class DraftPrompt(models.Model):
    """An instruction (and input) a model proposed, waiting for a person's decision."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending review")
        ACCEPTED = "accepted", _("Accepted as is")
        EDITED = "edited", _("Edited, then accepted")
        REJECTED = "rejected", _("Rejected")

    class RejectReason(models.TextChoices):
        UNCLEAR = "unclear", _("Unclear")
        UNSAFE = "unsafe", _("Unsafe")
        DUPLICATE = "duplicate", _("Duplicate")
        OUT_OF_SCOPE = "out_of_scope", _("Not in scope")

    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="draft_prompts"
    )
    job = models.ForeignKey(
        DraftingJob,
        verbose_name=_("job"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drafts",
    )
    instruction = models.TextField(verbose_name=_("instruction"), max_length=MAX_INSTRUCTION_CHARS)
    input = models.TextField(verbose_name=_("input"), blank=True, max_length=MAX_INPUT_CHARS)
    category = models.CharField(verbose_name=_("category"), max_length=MAX_SHORT_CHARS, blank=True)
    language = models.CharField(verbose_name=_("language"), max_length=16, blank=True)
    drafted_by = models.CharField(
        verbose_name=_("drafted by"),
        max_length=200,
        help_text=_("The drafting model's name, as its server serves it."),
    )
    drafted_version = models.CharField(
        verbose_name=_("drafted version"),
        max_length=200,
        blank=True,
        help_text=_("Which version of it: the live model version, or the drafting server."),
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    reject_reason = models.CharField(
        verbose_name=_("reject reason"), max_length=16, choices=RejectReason.choices, blank=True
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_drafts",
    )
    reviewed_at = models.DateTimeField(verbose_name=_("reviewed at"), null=True, blank=True)
    edit_distance = models.PositiveIntegerField(
        verbose_name=_("edit distance"),
        null=True,
        blank=True,
        help_text=_("Characters the reviewer changed (0: accepted as is)."),
    )
    prompt = models.OneToOneField(
        Prompt,
        verbose_name=_("prompt"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="draft",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "status", "id"])]
        verbose_name = _("draft prompt")
        verbose_name_plural = _("draft prompts")

    def __str__(self) -> str:
        return self.instruction[:80]
