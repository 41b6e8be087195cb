"""Reads for quality: agreement between annotators, gold accuracy, the model leaderboard, and
the admin dashboard that shows them. The figures come from the pure functions of
labeling.quality; this module only reads rows."""

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from labeling.exports.derive import choice_votes, ranking_votes
from labeling.exports.flags import NEVER_CHOSEN, PERSONAL_DATA, assessments_of
from labeling.kinds import gold_kinds, judgement_kinds, preference_kinds
from labeling.models import Completion, Demonstration, Judgement, Project, Prompt, QueueItem
from labeling.quality.agreement import (
    Alpha,
    JudgementRow,
    Share,
    Tau,
    agreement_with_others,
    alpha_without,
    compare_values,
    krippendorff_alpha,
    likert_values,
    mean_tau_of,
    pair_orders,
    pairwise_tau,
    ranking_values,
)
from labeling.quality.gold import gold_correct
from labeling.quality.leaderboard import (
    ParentWinRate,
    VersionScore,
    leaderboard,
    parent_win_rates,
    version_votes,
)
from serving.models import ModelServer
from training.models import ModelVersion, TrainingRun

BOOTSTRAP_ROUNDS = 200


@dataclass(frozen=True)
class AnnotatorAgreement:
    annotator_id: int
    username: str
    judgements: int
    ranking_contribution: float | None  # project alpha minus alpha without them
    likert_contribution: float | None
    mean_tau: Tau
    with_others: Share  # how often they ordered a pair of completions as another annotator did


@dataclass(frozen=True)
class WeekAgreement:
    week: str  # ISO week, e.g. 2026-W47
    judgements: int
    ranking: Alpha
    likert: Alpha


@dataclass(frozen=True)
class Agreement:
    judgements: int  # judgements of prompts judged by two or more annotators
    prompts: int  # such prompts
    ranking: Alpha
    likert: Alpha
    compare: Alpha
    taus: dict[tuple[int, int], Tau] = field(default_factory=dict)
    annotators: list[AnnotatorAgreement] = field(default_factory=list)
    weeks: list[WeekAgreement] = field(default_factory=list)


def judgement_rows(judgements: QuerySet[Judgement]) -> list[JudgementRow]:
    """The fields agreement reads, one row per judgement (also labeling.services.uncertainty)."""
    fields = (
        "annotator_id", "prompt_id", "kind", "ranking", "choice",
        "left_completion_id", "right_completion_id", "ratings", "created_at",
    )  # fmt: skip
    return [JudgementRow(*values) for values in judgements.values_list(*fields)]


def judgements_in(project: Project, since: datetime | None = None) -> QuerySet[Judgement]:
    """The project's judgements of the kinds agreement reads (since `since`), in id order."""
    judgements = Judgement.objects.filter(prompt__project=project, kind__in=judgement_kinds())
    if since is not None:
        judgements = judgements.filter(created_at__gte=since)
    return judgements.order_by("pk")


def agreement_for(project: Project, *, since: datetime | None = None) -> Agreement:
    """Agreement over the project's prompts that several annotators judged."""
    rows = judgement_rows(judgements_in(project, since))
    annotators_of: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        annotators_of[row.prompt_id].add(row.annotator_id)
    rows = [row for row in rows if len(annotators_of[row.prompt_id]) >= 2]
    ranks, likerts = ranking_values(rows), likert_values(rows)
    ranking, likert = krippendorff_alpha(ranks), krippendorff_alpha(likerts)
    taus = pairwise_tau(rows)
    return Agreement(
        judgements=len(rows),
        prompts=len({row.prompt_id for row in rows}),
        ranking=ranking,
        likert=likert,
        compare=krippendorff_alpha(compare_values(rows)),
        taus=taus,
        annotators=_per_annotator(rows, ranks, likerts, ranking, likert, taus),
        weeks=_per_week(rows),
    )


def agreement_alphas_for(project: Project) -> dict[str, dict]:
    """Krippendorff's alpha (ordinal) over rankings, Likert scores and comparisons, for the
    export manifest: only the judgements of prompts with two or more annotators are read."""
    overlapping = (
        judgements_in(project)
        .values("prompt_id")
        .annotate(annotators=Count("annotator_id", distinct=True))
        .filter(annotators__gte=2)
        .values("prompt_id")
    )
    rows = judgement_rows(judgements_in(project).filter(prompt_id__in=overlapping))
    alphas = {
        "ranking": krippendorff_alpha(ranking_values(rows)),
        "likert": krippendorff_alpha(likert_values(rows)),
        "compare": krippendorff_alpha(compare_values(rows)),
    }
    return {name: asdict(alpha) for name, alpha in alphas.items()}


def _per_annotator(rows, ranks, likerts, ranking, likert, taus) -> list[AnnotatorAgreement]:
    with_others = agreement_with_others(pair_orders(rows))
    counts: dict[int, int] = defaultdict(int)
    for row in rows:
        counts[row.annotator_id] += 1
    names = dict(get_user_model().objects.filter(pk__in=counts).values_list("pk", "username"))

    def contribution(overall: Alpha, values, annotator_id: int) -> float | None:
        without = alpha_without(values, annotator_id).alpha
        if overall.alpha is None or without is None:
            return None
        return overall.alpha - without

    return [
        AnnotatorAgreement(
            annotator_id=pk,
            username=names.get(pk, str(pk)),
            judgements=counts[pk],
            ranking_contribution=contribution(ranking, ranks, pk),
            likert_contribution=contribution(likert, likerts, pk),
            mean_tau=mean_tau_of(taus, pk),
            with_others=with_others.get(pk, Share(0, 0)),
        )
        for pk in sorted(counts)
    ]


def _per_week(rows: list[JudgementRow]) -> list[WeekAgreement]:
    by_week: dict[str, list[JudgementRow]] = defaultdict(list)
    for row in rows:
        year, week, _ = row.created_at.isocalendar()
        by_week[f"{year}-W{week:02d}"].append(row)
    return [
        WeekAgreement(
            week,
            len(week_rows),
            krippendorff_alpha(ranking_values(week_rows)),
            krippendorff_alpha(likert_values(week_rows)),
        )
        for week, week_rows in sorted(by_week.items())
    ]


# --- gold items ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldAccuracy:
    annotator_id: int
    username: str
    correct: int
    scored: int  # gold judgements the verdict could score

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None


def gold_accuracy_for(project: Project, *, annotator=None) -> list[GoldAccuracy]:
    """Each annotator's accuracy on the project's gold prompts (only `annotator`'s if given)."""
    verdicts = dict(
        Prompt.objects.filter(project=project, gold_verdict__isnull=False).values_list(
            "pk", "gold_verdict"
        )
    )
    judgements = Judgement.objects.filter(prompt_id__in=verdicts, kind__in=gold_kinds())
    if annotator is not None:
        judgements = judgements.filter(annotator=annotator)
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in judgement_rows(judgements.order_by("pk")):
        verdict = verdicts.get(row.prompt_id)
        correct = gold_correct(verdict, row) if isinstance(verdict, dict) else None
        if correct is not None:
            tally[row.annotator_id][0] += int(correct)
            tally[row.annotator_id][1] += 1
    names = dict(get_user_model().objects.filter(pk__in=tally).values_list("pk", "username"))
    return [
        GoldAccuracy(pk, names.get(pk, str(pk)), correct, scored)
        for pk, (correct, scored) in sorted(tally.items())
    ]


# --- model leaderboard -----------------------------------------------------------------------


@dataclass(frozen=True)
class LeaderboardRow:
    version: ModelVersion
    score: VersionScore


@dataclass(frozen=True)
class ParentRow:
    version: ModelVersion
    parent: ModelVersion
    rate: ParentWinRate


@dataclass(frozen=True)
class Leaderboard:
    rows: list[LeaderboardRow]
    parents: list[ParentRow]
    judgements: int  # judgements with at least one vote between versions
    votes: int


def leaderboard_for(project: Project, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0):
    """Bradley-Terry scores of the project's model versions from cross-version judgements."""
    judgements = Judgement.objects.filter(
        prompt__project=project, outcome__in=("ranked", "choice"), kind__in=preference_kinds()
    ).order_by("pk")
    raw = []
    for pk, annotator_id, ranking, choice, left, right in judgements.values_list(
        "pk", "annotator_id", "ranking", "choice", "left_completion_id", "right_completion_id"
    ):
        if ranking:
            votes = ranking_votes(ranking, judgement_id=pk, annotator_id=annotator_id)
        else:
            votes = choice_votes(
                choice, left=left, right=right, judgement_id=pk, annotator_id=annotator_id
            )
        raw += [(vote.chosen, vote.rejected, pk) for vote in votes]
    completion_ids = {c for vote in raw for c in vote[:2]}
    version_of = dict(
        Completion.objects.filter(pk__in=completion_ids).values_list("pk", "model_version_id")
    )
    votes = version_votes(raw, version_of)
    versions = {v.pk: v for v in ModelVersion.objects.filter(project=project)}
    scores = leaderboard(votes, rounds=rounds, seed=seed)
    rates = parent_win_rates(votes, {pk: v.parent_id for pk, v in versions.items()})
    return Leaderboard(
        rows=[
            LeaderboardRow(versions[s.version_id], s) for s in scores if s.version_id in versions
        ],
        parents=[
            ParentRow(versions[r.version_id], versions[r.parent_id], r)
            for r in rates
            if r.votes and r.parent_id in versions
        ],
        judgements=len({vote.judgement_id for vote in votes}),
        votes=len(votes),
    )


# --- the annotator's own work ----------------------------------------------------------------


def demonstrations_of(*, project: Project, author) -> QuerySet[Demonstration]:
    """The annotator's demonstrations in the project, newest first, with their review."""
    return (
        Demonstration.objects.filter(prompt__project=project, author=author)
        .select_related("prompt")
        .order_by("-created_at", "-pk")
    )


# --- dashboard -------------------------------------------------------------------------------


def judgements_per_hour(project: Project, *, now: datetime | None = None) -> list[tuple]:
    """(hour start, count) for the last 24 hours, oldest first."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=24)
    counts = [0] * 24
    for created_at in Judgement.objects.filter(
        prompt__project=project, created_at__gte=start
    ).values_list("created_at", flat=True):
        counts[min(int((created_at - start).total_seconds() // 3600), 23)] += 1
    return [(start + timedelta(hours=h), counts[h]) for h in range(24)]


def queue_depth(project: Project) -> dict[str, int]:
    """Open queue items (a free slot below the overlap) per task kind."""
    open_items = QueueItem.objects.filter(project=project, taken__lt=project.overlap)
    return dict(open_items.values_list("kind").annotate(n=Count("pk")).order_by("kind"))


@dataclass(frozen=True)
class FlagCount:
    flag: str  # a Judgement.Flag value
    label: str
    completions: int  # completions any annotator flagged so
    ratings: int  # ratings giving the flag (one per annotator and completion)
    in_exports: str  # what exports do with such a completion


def flag_counts(project: Project) -> list[FlagCount]:
    """How often each flag was given in the project, in Flag order, and what it does."""
    ratings = list(
        Judgement.objects.filter(prompt__project=project, ratings__isnull=False).values_list(
            "ratings", flat=True
        )
    )
    given = [flag for rating in ratings for r in rating.values() for flag in r.get("flags") or ()]
    completions = [a.flags for a in assessments_of(ratings).values()]
    return [
        FlagCount(
            flag,
            str(label),
            sum(1 for flags in completions if flag in flags),
            given.count(flag),
            _flag_effect(flag),
        )
        for flag, label in Judgement.Flag.choices
    ]


def _flag_effect(flag: str) -> str:
    if flag == PERSONAL_DATA:
        return gettext("left out of every export")
    if flag in NEVER_CHOSEN:
        return gettext("never a chosen answer nor a desirable KTO example")
    return gettext("counted only")


@dataclass(frozen=True)
class Dashboard:
    project: Project
    per_hour: list[tuple]  # (hour start, judgements)
    judgements_24h: int
    per_hour_chart: object  # labeling.quality.charts.BarChart
    queue_depth: dict[str, int]
    queue_head: list  # labeling.selectors.selection.QueuedPrompt, in the selection's order
    generation: dict
    servers: list
    training_runs: list
    agreement: Agreement
    agreement_line: str  # SVG polyline points of ranking alpha per week
    agreement_points: list
    leaderboard: Leaderboard
    leaderboard_chart: object
    gold: list[GoldAccuracy]
    scorecards: object  # labeling.selectors.scorecards.Scorecards
    head_to_head: object  # labeling.selectors.head_to_head.HeadToHead
    flags: list[FlagCount]


def dashboard_for(project: Project, *, now: datetime | None = None) -> Dashboard:
    """Everything the admin quality dashboard shows for one project."""
    from labeling.quality.charts import bar_chart, line_points, polyline
    from labeling.selectors.generation import generation_status
    from labeling.selectors.head_to_head import version_head_to_head
    from labeling.selectors.scorecards import scorecards_for
    from labeling.selectors.selection import queue_head

    per_hour = judgements_per_hour(project, now=now)
    agreement = agreement_for(project)
    board = leaderboard_for(project)
    gold = gold_accuracy_for(project)
    points = line_points([(week.week, week.ranking.alpha) for week in agreement.weeks])
    shift = min((row.score.low for row in board.rows), default=0.0)
    return Dashboard(
        project=project,
        per_hour=per_hour,
        judgements_24h=sum(count for _, count in per_hour),
        per_hour_chart=bar_chart([(f"{hour:%H}:00", count) for hour, count in per_hour]),
        queue_depth=queue_depth(project),
        queue_head=queue_head(project),
        generation=generation_status(project),
        servers=list(ModelServer.objects.all()[:20]),
        training_runs=list(
            TrainingRun.objects.filter(project=project).select_related("result_version")[:5]
        ),
        agreement=agreement,
        agreement_line=polyline(points),
        agreement_points=points,
        leaderboard=board,
        leaderboard_chart=bar_chart(
            [(f"v{row.version.number}", row.score.score - shift) for row in board.rows]
        ),
        gold=gold,
        scorecards=scorecards_for(project, agreement=agreement, gold=gold),
        head_to_head=version_head_to_head(project),
        flags=flag_counts(project),
    )
