from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from labeling.models.project import Project

MAX_INSTRUCTION_CHARS = 16_000
MAX_INPUT_CHARS = 64_000
MAX_OUTPUT_CHARS = 64_000
MAX_SHORT_CHARS = 100


class Prompt(models.Model):
    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="prompts"
    )
    instruction = models.TextField(verbose_name=_("instruction"), max_length=MAX_INSTRUCTION_CHARS)
    input = models.TextField(
        verbose_name=_("input"),
        blank=True,
        max_length=MAX_INPUT_CHARS,
        help_text=_("Optional input or context."),
    )
    category = models.CharField(verbose_name=_("category"), max_length=MAX_SHORT_CHARS, blank=True)
    language = models.CharField(
        verbose_name=_("language"),
        max_length=16,
        blank=True,
        help_text=_("BCP 47 code, e.g. en, ko."),
    )
    source = models.CharField(
        verbose_name=_("source"),
        max_length=MAX_SHORT_CHARS,
        blank=True,
        help_text=_("Where the prompt came from."),
    )
    history = models.JSONField(
        verbose_name=_("history"),
        default=list,
        blank=True,
        help_text=_(
            "The conversation before this turn: an optional system message, then alternating "
            'user and assistant turns ending with an assistant turn, as [{"role", "content"}]. '
            "The instruction (and input) is the last user turn, which completions answer."
        ),
    )
    metadata = models.JSONField(verbose_name=_("metadata"), default=dict, blank=True)
    drafted_by = models.CharField(
        verbose_name=_("drafted by"),
        max_length=200,
        blank=True,
        help_text=_("The model that drafted it (name and version); empty: written by people."),
    )
    draft_edit_distance = models.PositiveIntegerField(
        verbose_name=_("draft edit distance"),
        null=True,
        blank=True,
        help_text=_("Characters its reviewer changed in the draft (0: accepted as is)."),
    )
    gold_verdict = models.JSONField(
        verbose_name=_("gold verdict"),
        null=True,
        blank=True,
        help_text=_(
            'Expected verdict that makes this a gold item: {"kind": "compare", "choice": "a"} '
            '(a: the earlier completion, by id, is better) or {"kind": "rank", '
            '"best_completion": <id>}. Empty: not gold.'
        ),
    )
    dedupe_key = models.CharField(
        verbose_name=_("dedupe key"),
        max_length=64,
        editable=False,
        help_text=_("SHA-256 of the normalized history, instruction and input."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "dedupe_key"], name="prompt_unique_in_project"
            )
        ]
        indexes = [
            models.Index(fields=["project", "id"]),
            # Gold prompts are few: the queue finds a project's with a range over this alone.
            models.Index(
                fields=["project", "id"],
                condition=Q(gold_verdict__isnull=False),
                name="prompt_gold_idx",
            ),
        ]
        verbose_name = _("prompt")
        verbose_name_plural = _("prompts")

    def __str__(self) -> str:
        return self.instruction[:80]

    @property
    def turns(self) -> int:
        """User turns in the conversation, this one included (1: a single prompt)."""
        return 1 + sum(1 for turn in self.history if turn.get("role") == "user")
