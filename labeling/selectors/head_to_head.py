"""Reads for the head-to-head of the live version against the version it replaced.

A stable share of prompts (Project.compare_share) also gets completions of the comparison
version; their compare tasks show one completion of each version on random sides, and the
annotators' choices are the new version's win rate. Which version is which is recorded only
through the completions (Completion.model_version): nothing shown to annotators names it.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, Q

from labeling.kinds import head_to_head_kinds
from labeling.models import Completion, Judgement, Project
from labeling.quality.head_to_head import HeadToHeadCounts, wilson_interval
from training.models import ModelVersion
from training.selectors.versions import comparison_in_use, comparison_version, live_version


def in_compare_share(prompt_id: int, share: float) -> bool:
    """A stable pick: the same prompt is in or out of the share on every refill."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"compare:{prompt_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def head_to_head_prompts(
    *, project: Project, live: ModelVersion, prompt_ids: Iterable[int]
) -> dict[int, int]:
    """{prompt id: comparison version id} for the prompts among `prompt_ids` whose compare
    task is a head-to-head: in the share, with a completion of the comparison version."""
    comparison = comparison_in_use(project, live=live)
    if comparison is None:
        return {}
    picked = [pk for pk in prompt_ids if in_compare_share(pk, project.compare_share)]
    if not picked:
        return {}
    with_comparison = Completion.objects.filter(prompt_id__in=picked, model_version=comparison)
    return dict.fromkeys(with_comparison.values_list("prompt_id", flat=True), comparison.pk)


@dataclass(frozen=True)
class HeadToHead:
    live: ModelVersion | None
    comparison: ModelVersion | None  # the version the live one replaced
    counts: HeadToHeadCounts  # from the live version's side
    low: float | None  # 95% Wilson interval of the win rate
    high: float | None

    @property
    def n(self) -> int:
        return self.counts.n

    @property
    def win_rate(self) -> float | None:
        return self.counts.win_rate

    @property
    def verdict(self) -> str | None:
        """Better or worse when the whole interval is on one side of 0.5, unclear while it
        spans it; None before any judgement."""
        if self.low is None or self.high is None:
            return None
        if self.low > 0.5:
            return "better"
        if self.high < 0.5:
            return "worse"
        return "unclear"


def version_head_to_head(project: Project, *, live: ModelVersion | None = None) -> HeadToHead:
    """Wins, losses, ties and both-bad of `live` (the live version by default) against the
    version it replaced, over compare judgements that showed one completion of each."""
    live = live or live_version(project)
    comparison = comparison_version(project, live=live) if live is not None else None
    if comparison is None:
        return HeadToHead(live, None, HeadToHeadCounts(), None, None)
    pair = (live.pk, comparison.pk)
    left_live = Q(left_completion__model_version=live)
    right_live = Q(right_completion__model_version=live)
    figures = (
        Judgement.objects.filter(
            prompt__project=project,
            kind__in=head_to_head_kinds(),
            outcome=Judgement.Outcome.CHOICE,
            left_completion__model_version__in=pair,
            right_completion__model_version__in=pair,
        )
        .exclude(left_completion__model_version=F("right_completion__model_version"))
        .aggregate(
            wins=Count("pk", filter=(left_live & Q(choice="a")) | (right_live & Q(choice="b"))),
            losses=Count("pk", filter=(left_live & Q(choice="b")) | (right_live & Q(choice="a"))),
            ties=Count("pk", filter=Q(choice=Judgement.Choice.TIE)),
            both_bad=Count("pk", filter=Q(choice=Judgement.Choice.BOTH_BAD)),
        )
    )
    counts = HeadToHeadCounts(**figures)
    low, high = wilson_interval(counts.score, counts.n) or (None, None)
    return HeadToHead(live, comparison, counts, low, high)
