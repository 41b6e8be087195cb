"""Each annotator's figures in a project: speed (median seconds per task, by kind), how often
they agree with the other annotators, and their gold accuracy. The dashboard shows every
annotator's, the "My work" page the annotator's own; both in a few queries, whatever the
number of annotators."""

from collections import defaultdict
from dataclasses import dataclass
from statistics import median

from django.contrib.auth.models import AbstractBaseUser

from labeling.models import Assignment, Judgement, Project, TaskKind
from labeling.quality.agreement import Share, agreement_with_others, pair_orders
from labeling.selectors.quality import (
    Agreement,
    GoldAccuracy,
    gold_accuracy_for,
    judgement_rows,
    judgements_in,
)


@dataclass(frozen=True)
class KindSpeed:
    kind: str  # a TaskKind value
    label: str
    tasks: int  # submitted tasks of the kind that recorded their time
    median_seconds: float


@dataclass(frozen=True)
class Scorecard:
    annotator_id: int
    username: str
    tasks: int  # submitted tasks that recorded their time, all kinds
    speeds: list[KindSpeed | None]  # aligned with Scorecards.kinds (None: no task of it)
    with_others: Share
    gold: GoldAccuracy | None  # None: no judgement of theirs was scored against gold


@dataclass(frozen=True)
class Scorecards:
    kinds: list[tuple[str, str]]  # (value, label) of the kinds anyone has times for
    rows: list[Scorecard]


def task_times(project: Project, *, annotator: AbstractBaseUser | None = None) -> dict:
    """{annotator id: (username, {kind: [milliseconds, ...]})} over submitted tasks with a
    time (judgements and demonstrations alike: the assignment records it); one query."""
    assignments = Assignment.objects.filter(
        project=project, status=Assignment.Status.SUBMITTED, time_spent_ms__isnull=False
    )
    if annotator is not None:
        assignments = assignments.filter(annotator=annotator)
    times: dict[int, tuple[str, dict[str, list[int]]]] = {}
    for pk, username, kind, spent in assignments.values_list(
        "annotator_id", "annotator__username", "kind", "time_spent_ms"
    ):
        times.setdefault(pk, (username, defaultdict(list)))[1][kind].append(spent)
    return times


def _speeds(by_kind: dict[str, list[int]], kinds: list[str]) -> list[KindSpeed | None]:
    return [
        KindSpeed(kind, str(TaskKind(kind).label), len(spent), median(spent) / 1000)
        if (spent := by_kind.get(kind))
        else None
        for kind in kinds
    ]


def _kinds_timed(times: dict) -> list[str]:
    timed = {kind for _, by_kind in times.values() for kind in by_kind}
    return [kind for kind in TaskKind.values if kind in timed]


def scorecards_for(
    project: Project, *, agreement: Agreement, gold: list[GoldAccuracy]
) -> Scorecards:
    """Every annotator's scorecard, from the dashboard's agreement and gold figures plus one
    query for the task times."""
    times = task_times(project)
    kinds = _kinds_timed(times)
    with_others = {a.annotator_id: a for a in agreement.annotators}
    gold_of = {g.annotator_id: g for g in gold}
    names = {pk: username for pk, (username, _) in times.items()}
    names |= {a.annotator_id: a.username for a in agreement.annotators}
    names |= {g.annotator_id: g.username for g in gold}
    rows = []
    for pk in sorted(names, key=lambda pk: (names[pk], pk)):
        by_kind = times[pk][1] if pk in times else {}
        rows.append(
            Scorecard(
                annotator_id=pk,
                username=names[pk],
                tasks=sum(len(spent) for spent in by_kind.values()),
                speeds=_speeds(by_kind, kinds),
                with_others=with_others[pk].with_others if pk in with_others else Share(0, 0),
                gold=gold_of.get(pk),
            )
        )
    return Scorecards(kinds=[(kind, str(TaskKind(kind).label)) for kind in kinds], rows=rows)


def scorecard_of(*, project: Project, annotator: AbstractBaseUser) -> Scorecard:
    """One annotator's own scorecard: their times, their agreement with whoever judged the
    same prompts (only the figure, never the others' judgements), their gold accuracy."""
    times = task_times(project, annotator=annotator)
    by_kind = times[annotator.pk][1] if annotator.pk in times else {}
    kinds = [kind for kind in TaskKind.values if kind in by_kind]
    theirs = Judgement.objects.filter(prompt__project=project, annotator=annotator)
    rows = judgement_rows(judgements_in(project).filter(prompt_id__in=theirs.values("prompt_id")))
    gold = gold_accuracy_for(project, annotator=annotator)
    return Scorecard(
        annotator_id=annotator.pk,
        username=annotator.get_username(),
        tasks=sum(len(spent) for spent in by_kind.values()),
        speeds=_speeds(by_kind, kinds),
        with_others=agreement_with_others(pair_orders(rows)).get(annotator.pk, Share(0, 0)),
        gold=gold[0] if gold else None,
    )
