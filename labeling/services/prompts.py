import hashlib
import re
import unicodedata

from django.db import transaction

from labeling.models import Project, Prompt

_WHITESPACE = re.compile(r"\s+")


def prompt_normalize(text: str) -> str:
    """Normalization used for duplicate detection: NFKC, case-folded, whitespace collapsed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def prompt_dedupe_key(*, instruction: str, input: str = "") -> str:
    normalized = prompt_normalize(instruction) + "\x1f" + prompt_normalize(input)
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


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
