"""Reads for the annotation queue: what the workspace shows, progress, and the queue's notices.

Blind by design: nothing here returns another annotator's judgements or demonstrations. The
workspace gets a TaskView (prompt, completions in display order, guidelines) and nothing else.
"""

import random
from dataclasses import dataclass
from datetime import datetime, time

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from labeling.kinds import Kind, completion_kinds, gold_kinds, kind_of
from labeling.models import (
    Assignment,
    Completion,
    Demonstration,
    Project,
    Prompt,
    QueueCursor,
    QueueItem,
    TaskKind,
)
from labeling.selectors.selection import queue_order
from serving.selectors import model_servers_available
from training.models import ModelVersion
from training.selectors.versions import live_version

# Counts of work left stop here: the page shows "1000+" rather than paying for a full count.
LEFT_IN_QUEUE_CAP = 1000


@dataclass(frozen=True)
class PromptView:
    instruction: str
    input: str
    category: str
    history: tuple = ()  # the conversation before this turn: {"role", "content"} dicts


@dataclass(frozen=True)
class CompletionView:
    id: int
    text: str


@dataclass(frozen=True)
class TaskView:
    """Everything the workspace page renders for one task; it needs no ORM access beyond it."""

    kind: str  # a TaskKind value
    kind_label: str
    token: str  # the form carries it back to the submission services
    prompt: PromptView | None  # None for write tasks: the annotator writes the prompt
    completions: list[CompletionView]  # display order; for compare [left, right]; edit: one
    left: CompletionView | None  # compare only (choice "a" means left, "b" right)
    right: CompletionView | None
    expires_at: datetime
    guidelines: str  # the project's markdown; render it sanitized
    project_name: str
    project_slug: str

    @property
    def kind_spec(self) -> Kind:
        """The task's kind (labeling.kinds): its template, form and shortcuts."""
        return kind_of(self.kind)


@dataclass(frozen=True)
class Progress:
    done_today: int
    done_total: int
    left_in_queue: int  # tasks of prompt-based kinds still open to this annotator (capped)
    left_is_capped: bool = False  # True when left_in_queue stopped at LEFT_IN_QUEUE_CAP


def completions_needed(*, project: Project, kind: str) -> int:
    """How many completions of the live version a prompt needs before a task of `kind`."""
    return kind_of(kind).completions_needed(per_prompt=project.completions_per_prompt)


def enabled_kinds(project: Project) -> list[str]:
    """The project's task kinds in a fixed order (TaskKind's), unknown values dropped."""
    chosen = set(project.task_kinds or [])
    return [kind.value for kind in TaskKind if kind.value in chosen]


def completions_shown_by(completions: QuerySet, kind: Kind) -> QuerySet:
    """The completions a task of `kind` may show. A teacher's drafted answers (a drafting
    model other than the version they are stored under, labeling.services.drafting) are for
    people to fix in edit tasks only: ranked or compared they would pass for the served
    model's own answers and skew its preferences and head-to-heads."""
    if kind.revises_completion:
        return completions
    return completions.filter(Q(drafted_by="") | Q(drafted_by=F("model_version__served_name")))


def kind_weights(project: Project) -> dict[str, int]:
    """Each enabled kind's weight in the project's mix (1 where the project names none)."""
    weights = project.task_kind_weights or {}
    return {kind: weights.get(kind, 1) for kind in enabled_kinds(project)}


def kinds_in_turn(*, project: Project, last_kind: str | None, rng: random.Random) -> list[str]:
    """Enabled kinds in the order the next task tries them.

    Equal weights: a round-robin starting after `last_kind`, the kind of the annotator's
    latest task, so each kind gets an exact equal share while it has work. Otherwise the
    first kind is drawn by weight (then the next of those left, and so on), so hand-outs
    follow the weights; kinds of weight 0 come last, only when no other kind has work.
    """
    weights = kind_weights(project)
    kinds = list(weights)
    if len(set(weights.values())) <= 1:
        if last_kind in kinds:
            start = kinds.index(last_kind) + 1
            kinds = kinds[start:] + kinds[:start]
        return kinds
    drawn: list[str] = []
    left = [kind for kind in kinds if weights[kind] > 0]
    while left:
        kind = rng.choices(left, weights=[weights[kind] for kind in left])[0]
        drawn.append(kind)
        left.remove(kind)
    return drawn + [kind for kind in kinds if weights[kind] == 0]


def assignment_current(
    *, annotator: AbstractBaseUser, project: Project, now: datetime | None = None
) -> Assignment | None:
    """The annotator's active task in the project while its lock lasts (a reload shows it)."""
    return (
        Assignment.objects.filter(
            annotator=annotator,
            project=project,
            status=Assignment.Status.ACTIVE,
            expires_at__gt=now or timezone.now(),
        )
        .select_related("project")
        .first()
    )


def open_items(
    *, project: Project, kind: str, version: ModelVersion | None, annotator: AbstractBaseUser
) -> QuerySet[QueueItem]:
    """Queue items of `kind` with a free slot that this annotator was never assigned.

    Items nearest to their overlap come first, so prompts get complete before new ones open;
    then the project's prompt selection orders them (labeling.selectors.selection).
    """
    items = QueueItem.objects.filter(
        project=project, kind=kind, model_version=version, taken__lt=project.overlap
    ).filter(~Exists(Assignment.objects.filter(annotator=annotator, item=OuterRef("pk"))))
    if kind_of(kind).skip_if_demonstrated:  # whoever wrote a prompt already gave its answer
        items = items.filter(
            ~Exists(Demonstration.objects.filter(prompt=OuterRef("prompt"), author=annotator))
        )
    return items.order_by(*queue_order(project))


def gold_prompts_scoring(
    *, project: Project, kind: str, version: ModelVersion | int
) -> QuerySet[Prompt]:
    """The project's gold prompts whose verdict can score a task of `kind` that shows
    completions of `version`: a verdict naming a best completion scores the rank and compare
    tasks of that completion's version; a compare "choice" scores every compare task."""
    prompts = Prompt.objects.filter(project=project, gold_verdict__isnull=False).alias(
        best=Cast(KT("gold_verdict__best_completion"), BigIntegerField())
    )
    best_shown = Q(Exists(Completion.objects.filter(pk=OuterRef("best"), model_version=version)))
    if "choice" in kind_of(kind).gold_verdicts:
        return prompts.filter(best_shown | Q(best__isnull=True))
    return prompts.filter(best_shown)


def gold_items(
    *, project: Project, kind: str, version: ModelVersion | int | None
) -> QuerySet[QueueItem]:
    """Queue items that every annotator gets once, past the overlap, while the project mixes
    gold in (gold_share above 0): those of gold prompts whose verdict can score them. Head to
    head items are left out: extra votes on a few prompts would tilt the versions' win rate.
    """
    if project.gold_share <= 0 or kind not in gold_kinds() or version is None:
        return QueueItem.objects.none()
    # Driven from the few gold prompts (their partial index, then the item's unique one) to
    # item ids: filtering items by prompt instead lets SQLite scan the version's items.
    of_prompt = QueueItem.objects.filter(
        prompt=OuterRef("pk"), kind=kind, model_version=version, versus__isnull=True
    )
    prompts = gold_prompts_scoring(project=project, kind=kind, version=version)
    item_ids = prompts.annotate(item_id=Subquery(of_prompt.values("pk")[:1])).values("item_id")
    return QueueItem.objects.filter(pk__in=item_ids)


def gold_items_open_to(
    *, project: Project, kind: str, version: ModelVersion | None, annotator: AbstractBaseUser
) -> QuerySet[QueueItem]:
    """Gold items (see gold_items) this annotator was never assigned, whatever their `taken`."""
    mine = Assignment.objects.filter(annotator=annotator, item=OuterRef("pk"))
    items = gold_items(project=project, kind=kind, version=version)
    return items.filter(~Exists(mine)).order_by("pk")


def task_view(*, assignment: Assignment) -> TaskView:
    """The read model of one assignment for the workspace page."""
    project = assignment.project
    prompt = assignment.prompt
    texts = dict(
        Completion.objects.filter(pk__in=assignment.completion_ids).values_list("pk", "text")
    )
    completions = [
        CompletionView(id=pk, text=texts[pk]) for pk in assignment.completion_ids if pk in texts
    ]
    by_id = {completion.id: completion for completion in completions}
    return TaskView(
        kind=assignment.kind,
        kind_label=TaskKind(assignment.kind).label,
        token=str(assignment.token),
        prompt=(
            PromptView(
                instruction=prompt.instruction,
                input=prompt.input,
                category=prompt.category,
                history=tuple(prompt.history),
            )
            if prompt is not None and not kind_of(assignment.kind).writes_prompt
            else None
        ),
        completions=completions,
        left=by_id.get(assignment.left_completion_id),
        right=by_id.get(assignment.right_completion_id),
        expires_at=assignment.expires_at,
        guidelines=project.guidelines,
        project_name=project.name,
        project_slug=project.slug,
    )


def annotator_progress(*, annotator: AbstractBaseUser, project: Project) -> Progress:
    """Tasks done today and in all, and how many are still open to this annotator.

    A handful of index-driven queries, each bounded: left_in_queue counts open queue items
    the annotator never had, plus prompts (or completions, n to a prompt) the queue has not
    reached yet, and stops at LEFT_IN_QUEUE_CAP.
    """
    today = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    done = Assignment.objects.filter(
        annotator=annotator, project=project, status=Assignment.Status.SUBMITTED
    ).aggregate(total=Count("pk"), today=Count("pk", filter=Q(submitted_at__gte=today)))
    left = _left_in_queue(project=project, annotator=annotator)
    return Progress(
        done_today=done["today"],
        done_total=done["total"],
        left_in_queue=min(left, LEFT_IN_QUEUE_CAP),
        left_is_capped=left >= LEFT_IN_QUEUE_CAP,
    )


def _left_in_queue(*, project: Project, annotator: AbstractBaseUser) -> int:
    """Open items the annotator never had (gold items past the overlap too), plus work past
    the feed cursors (approximate)."""
    kinds = [kind for kind in enabled_kinds(project) if kind_of(kind).queued]
    with_completions = [kind for kind in kinds if kind in completion_kinds()]
    from_prompts = [kind for kind in kinds if kind not in completion_kinds()]
    live = live_version(project) if with_completions else None
    if live is None:
        with_completions = []
    counted = with_completions + from_prompts
    if not counted:
        return 0
    cap = LEFT_IN_QUEUE_CAP
    mine = Assignment.objects.filter(annotator=annotator, item=OuterRef("pk"))
    left = (
        # kind IN + taken < overlap ride the open-items index; the version is checked after
        QueueItem.objects.filter(project=project, kind__in=counted, taken__lt=project.overlap)
        .filter(Q(model_version=live) | Q(model_version__isnull=True))
        .filter(~Exists(mine))
        .order_by()[:cap]
        .count()
    )
    for kind in with_completions:  # gold items past the overlap are still open to them
        gold = gold_items_open_to(project=project, kind=kind, version=live, annotator=annotator)
        left += gold.filter(taken__gte=project.overlap).count()
    seen = {
        kind: position
        for kind, position in QueueCursor.objects.filter(project=project)
        .filter(Q(model_version=live) | Q(model_version__isnull=True))
        .values_list("kind", "seen")
    }
    for kind in from_prompts:
        ahead = Prompt.objects.filter(project=project, pk__gt=seen.get(kind, 0))
        left += ahead[:cap].count()
    if with_completions:
        # Completions the queue has not reached, n to a prompt, one task per enabled kind.
        position = min(seen.get(kind, 0) for kind in with_completions)
        per_prompt = project.completions_per_prompt
        ahead = Completion.objects.filter(model_version=live, pk__gt=position)
        left += ahead[: cap * per_prompt].count() // per_prompt * len(with_completions)
    return left


def _cursor_seen(*, project: Project, kind: str, version: ModelVersion | None) -> int:
    """The highest prompt or completion id already made into queue items (0: none yet)."""
    seen = (
        QueueCursor.objects.filter(project=project, kind=kind, model_version=version)
        .values_list("seen", flat=True)
        .first()
    )
    return seen or 0


def queue_notice(project: Project, *, annotator: AbstractBaseUser | None = None) -> str | None:
    """A line for the workspace when tasks that need completions cannot be given, else None.

    With `annotator`, work this annotator has already done does not count as available.
    """
    kinds = [kind for kind in enabled_kinds(project) if kind in completion_kinds()]
    if not kinds:
        return None
    live = live_version(project)
    if live is not None and _completion_work_exists(
        project=project, kinds=kinds, version=live, annotator=annotator
    ):
        return None
    # The kinds that need no model, as the notice names their tasks ("writing").
    others = [kind_of(kind).activity for kind in enabled_kinds(project)]
    others = [activity for activity in others if activity]
    meanwhile = (
        f" Meanwhile you get {' and '.join(others)} tasks."
        if others
        else " There is nothing else to do in this project until then."
    )
    if live is None:
        return "No model version is live in this project, so there are no completions to judge." + (
            meanwhile
        )
    if not model_servers_available():
        return "The model server is not answering, so no new completions can be made." + meanwhile
    return "The model's completions are still being generated." + meanwhile


def _completion_work_exists(
    *, project: Project, kinds: list[str], version: ModelVersion, annotator: AbstractBaseUser | None
) -> bool:
    """True when some kind in `kinds` has an open item, or completions not yet queued."""
    for kind in kinds:
        if annotator is not None:
            items = open_items(project=project, kind=kind, version=version, annotator=annotator)
            if gold_items_open_to(
                project=project, kind=kind, version=version, annotator=annotator
            ).exists():
                return True
        else:
            items = QueueItem.objects.filter(
                project=project, kind=kind, model_version=version, taken__lt=project.overlap
            )
        if items.exists():
            return True
        position = _cursor_seen(project=project, kind=kind, version=version)
        if Completion.objects.filter(model_version=version, pk__gt=position).exists():
            return True
    return False


def prompts_used_up(*, project: Project, version: ModelVersion) -> QuerySet:
    """Ids of prompts whose completions of `version` need no more judging: every enabled kind
    that shows completions has all its overlap taken. The generation buffer can leave them out.
    """
    kinds = [kind for kind in enabled_kinds(project) if kind in completion_kinds()]
    return (
        QueueItem.objects.filter(
            project=project, model_version=version, kind__in=kinds, taken__gte=project.overlap
        )
        .values("prompt_id")
        .annotate(full_kinds=Count("pk"))
        .filter(full_kinds=len(kinds))
        .values("prompt_id")
    )
