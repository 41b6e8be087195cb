"""Forms of the annotator's workspace: one per task kind (its kind module names it, see
labeling.kinds), plus the skip form.

Each form reads the plain POST the workspace page sends (which also works without
JavaScript), checks what the annotator can fix on the spot with a translated message, and
turns the fields into the keyword arguments of the submission service. The service checks
the payload again against the task itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

from labeling.models import Judgement
from labeling.models.judgement import LIKERT_FIELDS
from labeling.models.prompt import (
    MAX_INPUT_CHARS,
    MAX_INSTRUCTION_CHARS,
    MAX_OUTPUT_CHARS,
    MAX_SHORT_CHARS,
)

if TYPE_CHECKING:  # the selectors read the kinds, which name these forms
    from labeling.selectors.queue import CompletionView, TaskView

MAX_REASON_CHARS = 2000
LIKERT_LABELS = {"helpful": _("Helpful"), "honest": _("Honest"), "harmless": _("Harmless")}
FLAG_LABELS = {
    Judgement.Flag.HARMFUL: _("Harmful"),
    Judgement.Flag.FACTUALLY_WRONG: _("Factually wrong"),
    Judgement.Flag.OFF_TOPIC: _("Off-topic"),
    Judgement.Flag.PERSONAL_DATA: _("Personal data"),
}
RANK_OUTCOMES = [
    (Judgement.Outcome.RANKED, _("Ranked")),
    (Judgement.Outcome.NONE_ACCEPTABLE, _("None acceptable")),
    (Judgement.Outcome.CANNOT_JUDGE, _("Cannot judge")),
]
NEEDS_REASON = {Judgement.Outcome.NONE_ACCEPTABLE, Judgement.Outcome.CANNOT_JUDGE}


@dataclass
class CompletionRow:
    """One completion as the template shows it, with what the annotator entered for it."""

    id: int
    text: str
    number: int  # 1-based position as shown
    rank: str = ""
    thumb: str = ""
    scores: list = field(default_factory=list)  # [(field, label, value)]
    flags: list = field(default_factory=list)  # [(value, label, checked)]


class TaskForm(forms.Form):
    token = forms.UUIDField(widget=forms.HiddenInput)
    time_spent_ms = forms.IntegerField(min_value=0, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, completion_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.completion_ids = [int(pk) for pk in completion_ids]

    @classmethod
    def for_task(cls, task: TaskView) -> TaskForm:
        """The empty form of a task as it is first shown."""
        return cls(completion_ids=[c.id for c in task.completions])

    def service_kwargs(self) -> dict:
        raise NotImplementedError

    def rows(self, completions: list[CompletionView]) -> list[CompletionRow]:
        return [
            CompletionRow(id=c.id, text=c.text, number=n)
            for n, c in enumerate(completions, start=1)
        ]

    def value(self, name: str, default: str = "") -> str:
        """What the annotator sent for `name` (kept on screen when a submission is refused)."""
        if self.is_bound:
            return self.data.get(name, default)
        return self.initial.get(name, default)


class JudgementForm(TaskForm):
    outcome = forms.ChoiceField(choices=RANK_OUTCOMES, required=False)
    reason = forms.CharField(required=False, max_length=MAX_REASON_CHARS)

    def outcome_value(self) -> str:
        return self.cleaned_data.get("outcome") or ""

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") in NEEDS_REASON and not cleaned.get("reason", "").strip():
            self.add_error("reason", _("Say briefly why."))
        return cleaned


def _completion_id_fields(form: TaskForm, prefix: str, field_factory) -> None:
    for pk in form.completion_ids:
        form.fields[f"{prefix}{pk}"] = field_factory()


class RankForm(JudgementForm):
    """rank_<id>: a number 1-9 per completion; equal numbers are a tie."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _completion_id_fields(
            self, "rank_", lambda: forms.IntegerField(min_value=1, max_value=9, required=False)
        )

    def clean(self):
        cleaned = super().clean()
        ranks = {pk: cleaned.get(f"rank_{pk}") for pk in self.completion_ids}
        outcome = cleaned.get("outcome") or Judgement.Outcome.RANKED
        if outcome == Judgement.Outcome.RANKED and None in ranks.values():
            missing = [str(n) for n, pk in enumerate(self.completion_ids, 1) if ranks[pk] is None]
            self.add_error(
                None,
                _("Give every answer a rank from 1 to 9; missing: #%(missing)s.")
                % {"missing": ", #".join(missing)},
            )
        return cleaned

    def ranking(self) -> list[list[int]]:
        by_rank: dict[int, list[int]] = {}
        for pk in self.completion_ids:
            by_rank.setdefault(self.cleaned_data[f"rank_{pk}"], []).append(pk)
        return [by_rank[rank] for rank in sorted(by_rank)]

    def service_kwargs(self) -> dict:
        outcome = self.outcome_value() or Judgement.Outcome.RANKED
        ranking = self.ranking() if outcome == Judgement.Outcome.RANKED else None
        return {"outcome": outcome, "ranking": ranking, "reason": self.cleaned_data["reason"]}

    def rows(self, completions):
        rows = super().rows(completions)
        for row in rows:
            row.rank = self.value(f"rank_{row.id}")
        return rows


class CompareForm(JudgementForm):
    choice = forms.ChoiceField(choices=Judgement.Choice.choices, required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") != Judgement.Outcome.CANNOT_JUDGE and not cleaned.get("choice"):
            self.add_error("choice", _("Choose A, B, tie or both bad."))
        return cleaned

    def service_kwargs(self) -> dict:
        if self.outcome_value() == Judgement.Outcome.CANNOT_JUDGE:
            return {
                "outcome": Judgement.Outcome.CANNOT_JUDGE,
                "reason": self.cleaned_data["reason"],
            }
        return {"outcome": Judgement.Outcome.CHOICE, "choice": self.cleaned_data["choice"]}


class RateForm(JudgementForm):
    """thumb_<id> (required), helpful_/honest_/harmless_<id> (1-5, optional), flags_<id>."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        judging = self.data.get("outcome") != Judgement.Outcome.CANNOT_JUDGE
        _completion_id_fields(
            self,
            "thumb_",
            lambda: forms.ChoiceField(
                choices=Judgement.Thumb.choices,
                required=judging,
                error_messages={"required": _("Give every answer a thumb up or down.")},
            ),
        )
        for name in LIKERT_FIELDS:
            _completion_id_fields(
                self,
                f"{name}_",
                lambda: forms.TypedChoiceField(
                    choices=[(n, n) for n in range(1, 6)], coerce=int, required=False
                ),
            )
        _completion_id_fields(
            self,
            "flags_",
            lambda: forms.MultipleChoiceField(choices=Judgement.Flag.choices, required=False),
        )

    def service_kwargs(self) -> dict:
        if self.outcome_value() == Judgement.Outcome.CANNOT_JUDGE:
            return {
                "outcome": Judgement.Outcome.CANNOT_JUDGE,
                "reason": self.cleaned_data["reason"],
            }
        data = self.cleaned_data
        ratings = {}
        for pk in self.completion_ids:
            rating = {"thumb": data[f"thumb_{pk}"], "flags": data[f"flags_{pk}"]}
            for name in LIKERT_FIELDS:
                if data.get(f"{name}_{pk}") not in (None, ""):
                    rating[name] = data[f"{name}_{pk}"]
            ratings[pk] = rating
        return {"outcome": Judgement.Outcome.RATED, "ratings": ratings}

    def rows(self, completions):
        rows = super().rows(completions)
        for row in rows:
            row.thumb = self.value(f"thumb_{row.id}")
            row.scores = [
                (name, LIKERT_LABELS[name], self.value(f"{name}_{row.id}"))
                for name in LIKERT_FIELDS
            ]
            checked = self.data.getlist(f"flags_{row.id}") if self.is_bound else []
            row.flags = [(value, label, value in checked) for value, label in FLAG_LABELS.items()]
        return rows


class DemonstrationForm(TaskForm):
    output = forms.CharField(
        max_length=MAX_OUTPUT_CHARS,
        strip=False,
        error_messages={"required": _("Write the answer.")},
    )

    def service_kwargs(self) -> dict:
        return {"output": self.cleaned_data["output"]}


class AnswerForm(DemonstrationForm):
    """The answer to the task's prompt."""


class EditForm(DemonstrationForm):
    """The shown completion, fixed: the text box starts with the completion's text."""

    @classmethod
    def for_task(cls, task: TaskView) -> TaskForm:
        form = super().for_task(task)
        if task.completions:
            form.initial["output"] = task.completions[0].text
        return form


class WriteForm(DemonstrationForm):
    instruction = forms.CharField(
        max_length=MAX_INSTRUCTION_CHARS, error_messages={"required": _("Write the instruction.")}
    )
    input = forms.CharField(max_length=MAX_INPUT_CHARS, required=False)
    category = forms.CharField(max_length=MAX_SHORT_CHARS, required=False)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "output": data["output"],
            "instruction": data["instruction"],
            "input": data["input"],
            "category": data["category"],
        }


class ContinueForm(TaskForm):
    """The user's next message in the conversation, after the shown assistant turn."""

    turn = forms.CharField(
        max_length=MAX_INSTRUCTION_CHARS,
        strip=False,
        error_messages={"required": _("Write the user's next message.")},
    )

    def service_kwargs(self) -> dict:
        return {"turn": self.cleaned_data["turn"]}


class SkipForm(forms.Form):
    token = forms.UUIDField(widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=MAX_REASON_CHARS,
        error_messages={"required": _("Say briefly why you skip this task.")},
    )
