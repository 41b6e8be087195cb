from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from labeling.models.project import Project

MAX_INSTRUCTION_CHARS = 16_000
MAX_INPUT_CHARS = 64_000
MAX_OUTPUT_CHARS = 64_000
MAX_SHORT_CHARS = 100


class Prompt(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    instruction = models.TextField(max_length=MAX_INSTRUCTION_CHARS)
    input = models.TextField(
        blank=True, max_length=MAX_INPUT_CHARS, help_text=_("Optional input or context.")
    )
    category = models.CharField(max_length=MAX_SHORT_CHARS, blank=True)
    language = models.CharField(max_length=16, blank=True, help_text=_("BCP 47 code, e.g. en, ko."))
    source = models.CharField(
        max_length=MAX_SHORT_CHARS, blank=True, help_text=_("Where the prompt came from.")
    )
    history = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "The conversation before this turn: an optional system message, then alternating "
            'user and assistant turns ending with an assistant turn, as [{"role", "content"}]. '
            "The instruction (and input) is the last user turn, which completions answer."
        ),
    )
    metadata = models.JSONField(default=dict, blank=True)
    drafted_by = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("The model that drafted it (name and version); empty: written by people."),
    )
    draft_edit_distance = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Characters its reviewer changed in the draft (0: accepted as is)."),
    )
    gold_verdict = models.JSONField(
        null=True,
        blank=True,
        help_text=(
            'Expected verdict that makes this a gold item: {"kind": "compare", "choice": "a"} '
            '(a: the earlier completion, by id, is better) or {"kind": "rank", '
            '"best_completion": <id>}. Empty: not gold.'
        ),
    )
    dedupe_key = models.CharField(
        max_length=64,
        editable=False,
        help_text=_("SHA-256 of the normalized history, instruction and input."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

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

    def __str__(self) -> str:
        return self.instruction[:80]

    @property
    def turns(self) -> int:
        """User turns in the conversation, this one included (1: a single prompt)."""
        return 1 + sum(1 for turn in self.history if turn.get("role") == "user")
