"""The project the annotators work on, inserted straight into the tables."""

import math
from datetime import timedelta

KINDS = ("rank", "compare", "rate")
OVERLAP = 3
COMPLETIONS_PER_PROMPT = 4
SLUG = "load"


def prompts_for(judgements: int) -> int:
    """Prompts enough that the queue never runs dry: each holds one item per kind, each
    item `overlap` judgements; a fifth more, since the last items are left part-filled."""
    return math.ceil(judgements * 1.2 / (len(KINDS) * OVERLAP)) + 10


def load_seed(*, annotators: int, prompts: int, slug: str = SLUG):
    """The project, its prompts with completions of the live version, and `annotators`
    members with API tokens (returned as (project, token keys)). Rows are bulk-inserted (no
    model server is needed) and dated a minute back, as pre-generation leaves them."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from labeling.models import Completion, Prompt, Role
    from labeling.normalize import prompt_dedupe_key
    from labeling.services.projects import membership_grant, project_create
    from training.selectors.versions import live_version

    User = get_user_model()
    with transaction.atomic():
        project = project_create(
            name="Load",
            slug=slug,
            task_kinds=list(KINDS),
            overlap=OVERLAP,
            completions_per_prompt=COMPLETIONS_PER_PROMPT,
            guidelines="Prefer the answer that is **correct**, then the one that is clear.",
        )
        users = User.objects.bulk_create(
            [User(username=f"{slug}-annotator{i}") for i in range(annotators)]
        )
        for user in users:
            membership_grant(project=project, user=user, role=Role.ANNOTATOR)
        tokens = Token.objects.bulk_create(
            [Token(user=user, key=Token.generate_key()) for user in users]
        )
        texts = [f"Load prompt {i}: explain one idea in two sentences." for i in range(prompts)]
        rows = Prompt.objects.bulk_create(
            Prompt(
                project=project,
                instruction=text,
                source="bench",
                dedupe_key=prompt_dedupe_key(instruction=text, input=""),
            )
            for text in texts
        )
        live = live_version(project)
        Completion.objects.bulk_create(
            Completion(
                prompt=prompt,
                model_version=live,
                text=f"Answer {k} to prompt {prompt.pk}. " * 6,
                index=k,
                is_synthetic=True,
                finish_reason="stop",
            )
            for prompt in rows
            for k in range(COMPLETIONS_PER_PROMPT)
        )
        earlier = timezone.now() - timedelta(minutes=1)
        Prompt.objects.filter(project=project).update(created_at=earlier)
        Completion.objects.filter(prompt__project=project).update(created_at=earlier)
    return project, [token.key for token in tokens]
