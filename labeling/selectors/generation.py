"""Reads for pre-generation: which prompts have their completions ready, and how many should.

"Ready and unused" means: the prompt has `completions_per_prompt` completions of the project's
live model version, and the queue still wants judgements on them (not every completion task
kind has all its overlap taken). `_ready_prompts` is the one place that says so.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from labeling.kinds import completion_kinds
from labeling.models import Completion, Membership, Project, Prompt, Role
from labeling.selectors.queue import prompts_used_up
from labeling.selectors.selection import prompts_in_selection_order
from serving.selectors import model_servers_available, model_servers_retry_at
from training.models import ModelVersion
from training.selectors.versions import live_version

# An annotator counts as active when they logged in within this window. The queue work will
# switch this to the time of their last task activity, which says more than a login does.
ACTIVE_WINDOW = timedelta(minutes=30)
# Prompts kept ready: never fewer than MIN_BUFFER, and PER_ANNOTATOR for each active annotator
# (about what one annotator judges while the next batch of completions is sampled on a CPU).
MIN_BUFFER = 8
PER_ANNOTATOR = 4


def buffer_target_for(*, active_annotators: int) -> int:
    return max(MIN_BUFFER, PER_ANNOTATOR * max(0, active_annotators))


def active_annotator_count(project: Project, *, now: datetime | None = None) -> int:
    since = (now or timezone.now()) - ACTIVE_WINDOW
    return Membership.objects.filter(
        project=project, role=Role.ANNOTATOR, user__is_active=True, user__last_login__gte=since
    ).count()


def buffer_target(project: Project) -> int:
    return buffer_target_for(active_annotators=active_annotator_count(project))


def uses_completions(project: Project) -> bool:
    """False for a project whose task kinds never show completions: nothing to pre-generate."""
    return any(kind in completion_kinds() for kind in project.task_kinds)


def _ready_prompts(project: Project, version: ModelVersion) -> QuerySet[Prompt]:
    return (
        Prompt.objects.filter(project=project)
        .annotate(
            version_completions=Count("completions", filter=Q(completions__model_version=version))
        )
        .filter(version_completions__gte=project.completions_per_prompt)
        .exclude(pk__in=prompts_used_up(project=project, version=version))
    )


def buffered_prompt_count(project: Project, *, version: ModelVersion | None = None) -> int:
    """Prompts whose completions of the live version (or `version`) are ready and unused."""
    version = version or live_version(project)
    if version is None:
        return 0
    return _ready_prompts(project, version).count()


def prompts_needing_completions(
    project: Project,
    limit: int,
    *,
    version: ModelVersion | None = None,
    exclude_ids: Iterable[int] = (),
) -> list[Prompt]:
    """Prompts with no completion of the live version (or `version`) yet, first in the
    project's prompt selection order (oldest first by default)."""
    version = version or live_version(project)
    if version is None or limit <= 0:
        return []
    has_completions = Completion.objects.filter(prompt=OuterRef("pk"), model_version=version)
    prompts = (
        Prompt.objects.filter(project=project)
        .exclude(Exists(has_completions))
        .exclude(pk__in=list(exclude_ids))
    )
    return prompts_in_selection_order(
        project=project, candidates=prompts, version=version, limit=limit
    )


def generation_status(project: Project) -> dict:
    """What the workspace tells annotators: can the model serve, and how much is ready.

    server_up is False only when every configured server is known down; retry_at is when
    the worker tries again (None when it may try now).
    """
    version = live_version(project)
    return {
        "server_up": model_servers_available(),
        "retry_at": model_servers_retry_at(),
        "live_version": version.served_name if version else None,
        "buffered": buffered_prompt_count(project, version=version) if version else 0,
        "target": buffer_target(project),
    }
