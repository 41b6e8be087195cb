"""Writing prompts one at a time (a write task, the demo, the admin); files go through
labeling.services.prompt_import. The dedupe key always follows the text it is made from."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.texts import text_shown
from labeling.models import Project, Prompt
from labeling.normalize import prompt_dedupe_key, prompt_normalize
from training.engine.prompts import conversation_problems

__all__ = [
    "prompt_create",
    "prompt_dedupe_key",
    "prompt_normalize",
    "prompt_text_check",
    "prompt_update",
]

DUPLICATE = "This instruction (with this input) is already in the project."
ANSWERED = (
    "This prompt was already answered as it is written (completions, demonstrations, "
    "judgements or tasks refer to it), so its instruction and input stay as they are; add "
    "the corrected prompt as a new one."
)


def prompt_text_check(
    *,
    project: Project,
    instruction: str,
    input: str = "",
    history: list | tuple = (),
    prompt: Prompt | None = None,
) -> None:
    """Refuse, keyed by field, a text that repeats another prompt of the project, or that
    rewords `prompt` once anything answers it: those answers were given to the text as it
    was (case and spacing, which the dedupe key ignores, may still change)."""
    key = prompt_dedupe_key(instruction=instruction, input=input, history=history)
    others = Prompt.objects.filter(project=project, dedupe_key=key)
    if prompt is not None:
        others = others.exclude(pk=prompt.pk)
    if others.exists():
        raise ValidationError({"instruction": DUPLICATE})
    if prompt is None:
        return
    stored = Prompt.objects.filter(pk=prompt.pk).values_list("dedupe_key", flat=True).first()
    if stored != key and _answered(prompt):
        raise ValidationError({"instruction": ANSWERED})


def history_check(history: list) -> list[dict[str, str]]:
    """The turns of a conversation before a user turn, as stored: role and content only;
    refused on `history` when they are not one (see prompts.conversation_problems)."""
    turns = []
    for turn in history:
        content = turn.get("content") if isinstance(turn, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise ValidationError({"history": _("Every turn of a conversation needs text.")})
        turns.append({"role": turn.get("role"), "content": content})
    if turns:
        problems = conversation_problems([t["role"] for t in turns], complete=False)
        if problems:
            index, problem = problems[0]
            turn = _("Turn %(number)s: %(problem)s.")
            raise ValidationError(
                {"history": turn % {"number": index + 1, "problem": text_shown(problem)}}
            )
    return turns


def _answered(prompt: Prompt) -> bool:
    return (
        prompt.completions.exists()
        or prompt.demonstrations.exists()
        or prompt.judgements.exists()
        or prompt.assignments.exists()
    )


@transaction.atomic
def prompt_create(
    *,
    project: Project,
    instruction: str,
    input: str = "",
    category: str = "",
    language: str = "",
    source: str = "",
    metadata: dict | None = None,
    history: list | None = None,
    drafted_by: str = "",
    draft_edit_distance: int | None = None,
) -> Prompt:
    """A new prompt; `history` (the conversation before it, ending with an assistant turn)
    makes it the next user turn of that conversation."""
    history = history_check(history or [])
    prompt_text_check(project=project, instruction=instruction, input=input, history=history)
    prompt = Prompt(
        project=project,
        instruction=instruction,
        input=input,
        category=category,
        language=language,
        source=source,
        metadata=metadata or {},
        history=history,
        drafted_by=drafted_by,
        draft_edit_distance=draft_edit_distance,
        dedupe_key=prompt_dedupe_key(instruction=instruction, input=input, history=history),
    )
    prompt.full_clean()
    prompt.save()
    return prompt


@transaction.atomic
def prompt_update(
    *,
    prompt: Prompt,
    instruction: str | None = None,
    input: str | None = None,
    category: str | None = None,
) -> Prompt:
    """Correct a prompt (None: keep the field); the text as `prompt_text_check` allows.

    Reads the stored row again: the object passed in may carry a form's unsaved values.
    """
    current = Prompt.objects.select_for_update().get(pk=prompt.pk)
    instruction = current.instruction if instruction is None else instruction
    input = current.input if input is None else input
    prompt_text_check(
        project=current.project,
        instruction=instruction,
        input=input,
        history=current.history,
        prompt=current,
    )
    current.instruction, current.input = instruction, input
    if category is not None:
        current.category = category
    current.dedupe_key = prompt_dedupe_key(
        instruction=instruction, input=input, history=current.history
    )
    current.full_clean()
    current.save(update_fields=["instruction", "input", "category", "dedupe_key"])
    return current
