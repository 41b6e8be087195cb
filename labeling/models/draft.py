"""Drafts a model proposed and nobody has reviewed yet, and the jobs that make them.

A DraftPrompt is not a Prompt: nothing unreviewed reaches the queue, generation or exports.
An accepted (or edited) draft becomes a Prompt through labeling.services.drafting.
"""

from django.conf import settings
from django.db import models
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

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="drafting_jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INSTRUCTIONS)
    count = models.PositiveIntegerField(help_text=_("How many drafts were asked for."))
    categories = models.JSONField(
        default=list, blank=True, help_text=_("Categories to draft in (empty: the project's).")
    )
    temperature = models.FloatField(default=0.9)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    drafted = models.PositiveIntegerField(default=0, help_text=_("Drafts stored so far."))
    dropped = models.PositiveIntegerField(
        default=0, help_text=_("Proposals dropped as near-duplicates of prompts or drafts.")
    )
    requests = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(
        default=0, help_text=_("Rounds the drafting server did not answer in a row.")
    )
    model_name = models.CharField(max_length=200, blank=True, help_text=_("The drafting model."))
    message = models.TextField(blank=True, help_text=_("The last thing the worker reported."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drafting_jobs",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.project.slug} drafting job #{self.pk} ({self.kind})"


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

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="draft_prompts")
    job = models.ForeignKey(
        DraftingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="drafts"
    )
    instruction = models.TextField(max_length=MAX_INSTRUCTION_CHARS)
    input = models.TextField(blank=True, max_length=MAX_INPUT_CHARS)
    category = models.CharField(max_length=MAX_SHORT_CHARS, blank=True)
    language = models.CharField(max_length=16, blank=True)
    drafted_by = models.CharField(
        max_length=200, help_text=_("The drafting model's name, as its server serves it.")
    )
    drafted_version = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("Which version of it: the live model version, or the drafting server."),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reject_reason = models.CharField(max_length=16, choices=RejectReason.choices, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_drafts",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    edit_distance = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Characters the reviewer changed (0: accepted as is).")
    )
    prompt = models.OneToOneField(
        Prompt, null=True, blank=True, on_delete=models.SET_NULL, related_name="draft"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "status", "id"])]

    def __str__(self) -> str:
        return self.instruction[:80]
