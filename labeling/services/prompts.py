from django.db import transaction

from labeling.models import Project, Prompt
from labeling.normalize import prompt_dedupe_key, prompt_normalize

__all__ = ["prompt_create", "prompt_dedupe_key", "prompt_normalize"]


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
) -> Prompt:
    prompt = Prompt(
        project=project,
        instruction=instruction,
        input=input,
        category=category,
        language=language,
        source=source,
        metadata=metadata or {},
        dedupe_key=prompt_dedupe_key(instruction=instruction, input=input),
    )
    prompt.full_clean()
    prompt.save()
    return prompt
