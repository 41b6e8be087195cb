"""Marking prompts as gold items: an expected verdict that annotators' judgements are scored
against (labeling.quality.gold)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from labeling.models import Completion, Prompt
from labeling.quality.gold import verdict_errors


def gold_verdict_check(*, prompt: Prompt, verdict: dict | None) -> None:
    """A valid verdict whose completion (if it names one) belongs to the prompt."""
    if verdict is None:
        return
    errors = verdict_errors(verdict)
    if errors:
        raise ValidationError({"gold_verdict": errors})
    best = verdict.get("best_completion")
    if best is not None and not Completion.objects.filter(pk=best, prompt=prompt).exists():
        raise ValidationError({"gold_verdict": _("That completion is not one of this prompt's.")})


@transaction.atomic
def prompt_gold_set(*, prompt: Prompt, verdict: dict | None) -> Prompt:
    """Make the prompt a gold item with `verdict`, or (None) an ordinary prompt again."""
    gold_verdict_check(prompt=prompt, verdict=verdict)
    prompt.gold_verdict = verdict
    prompt.save(update_fields=["gold_verdict"])
    return prompt
