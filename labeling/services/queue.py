"""The annotation queue: hand out the next task, take submissions and skips back.

How a task is found without scanning the project: every unit of work is a QueueItem (one
prompt, one kind, for kinds with completions one model version) whose `taken` counts
submitted plus active assignments. Items are created lazily, a batch at a time, from a
cursor over new prompts (answer) or new completions of the live version (rank, compare,
rate, edit), only when the open items run out for the annotator asking. Picking is then an
index range over the few open items, with a NOT EXISTS probe on the annotator's own
assignments, and claiming is a conditional UPDATE of `taken`.

Head to head: the compare item of a prompt in the project's compare share, made when the
version the live one replaced has completions of it too, carries that version as `versus`;
its task shows one completion of each version, on random sides (see
labeling.selectors.head_to_head). Other prompts' compare tasks show two of the live version.

Gold items (rank and compare items of prompts with a gold verdict that can score them) go
to every annotator once, past the overlap, so each annotator's gold accuracy rests on all of
them: when the project's gold share roll hits, or nothing else is open to the annotator, the
pick first looks among the gold items they never had (a range over the few gold prompts, see
labeling.selectors.queue.gold_items) and claims one without the overlap cap.

Concurrency: on PostgreSQL the candidate item is locked FOR UPDATE SKIP LOCKED, so two
annotators asking at once take different items (or different slots of one); on SQLite the
IMMEDIATE transactions of the settings admit one writer at a time. Each claim is also a
conditional UPDATE (taken < overlap), so an item never goes past its overlap either way
(gold items excepted; one assignment per annotator and item keeps those to one each).

Expired locks are returned lazily: each task_next first releases the project's expired
active assignments (an index range over active ones only).
"""

import random
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from labeling.models import (
    Assignment,
    Completion,
    Demonstration,
    Judgement,
    Project,
    Prompt,
    QueueCursor,
    QueueItem,
    TaskKind,
)
from labeling.selectors.head_to_head import head_to_head_prompts
from labeling.selectors.queue import (
    COMPLETION_KINDS,
    DEMONSTRATION_KINDS,
    GOLD_KINDS,
    JUDGEMENT_KINDS,
    assignment_current,
    completions_needed,
    gold_items,
    gold_items_open_to,
    kinds_in_turn,
    live_version_of,
    open_items,
)
from labeling.services.judgement_payloads import judgement_payload_clean, time_spent_clean
from labeling.services.prompts import prompt_create, prompt_dedupe_key
from training.models import ModelVersion

# Prompts made into queue items per look past the cursor, and looks per request.
FEED_BATCH = 100
MAX_FEEDS_PER_PICK = 4
# Rows newer than this may still be joined by rows with lower ids committing late
# (PostgreSQL sequences): the cursor stays behind them and they are looked at again.
SETTLE = timedelta(seconds=5)
# Expired assignments released per request (there are at most as many as annotators).
EXPIRE_BATCH = 100

rng = random.Random()  # display order and compare sides; tests may seed it

# Lazy: each is translated into the language of the request that shows it (page or API).
MSG_UNKNOWN = gettext_lazy("This task is not known (it may have been removed). Take the next task.")
MSG_NOT_YOURS = gettext_lazy("This task was given to another annotator.")
MSG_SKIPPED = gettext_lazy(
    "You skipped this task, so it cannot be submitted any more. Take the next task."
)
MSG_SUBMITTED = gettext_lazy("This task was already submitted.")
MSG_SLOT_TAKEN = gettext_lazy(
    "Your time on this task ran out and another annotator has taken it, so your answer "
    "was not saved. Take the next task."
)
MSG_CHANGED = gettext_lazy(
    "The model's completions for this prompt changed after the task was shown, so your "
    "answer was not saved. Take the next task."
)
MSG_TAKES_JUDGEMENT = gettext_lazy(
    "This task asks for a judgement of the completions, not a written answer."
)
MSG_TAKES_DEMONSTRATION = gettext_lazy("This task asks for a written answer, not a judgement.")


class SubmissionRefused(Exception):
    """A submission that no longer matches its task; `message` is for the annotator."""

    def __init__(self, message: str):
        """`message` is shown to the annotator as it is; a lazy translation (the MSG_
        constants) is rendered in the language of the request that shows it."""
        super().__init__(message)
        self.message = message


# --- handing out tasks -----------------------------------------------------------------


def task_next(*, annotator: AbstractBaseUser, project: Project) -> Assignment | None:
    """The annotator's task: their current one while its lock lasts, else a new one.

    The kind follows the project's mix round-robin, skipping kinds with no work for this
    annotator (kinds that show completions have none while none are ready). None when
    there is nothing to do at all. Each step is its own short transaction (release expired
    locks, feed the queue, claim a slot), so no request holds locks of two steps at once.
    """
    now = timezone.now()
    latest = Assignment.objects.filter(annotator=annotator, project=project).order_by("-pk").first()
    active = latest is not None and latest.status == Assignment.Status.ACTIVE
    if active and latest.expires_at > now:  # a reload shows the same task
        latest.project = project
        return latest
    assignments_expire(project=project, now=now, annotator=annotator)
    live = None
    for kind in kinds_in_turn(project=project, last_kind=latest.kind if latest else None):
        if kind in COMPLETION_KINDS:
            live = live or live_version_of(project)
            if live is None:
                continue
        try:
            assignment = _task_of_kind(
                project=project,
                annotator=annotator,
                kind=kind,
                version=live if kind in COMPLETION_KINDS else None,
                now=now,
            )
        except IntegrityError:
            # Another request of the same annotator created their active assignment first.
            current = assignment_current(annotator=annotator, project=project)
            if current is None:
                raise
            return current
        if assignment is not None:
            return assignment
    return None


def assignments_expire(
    *, project: Project, now: datetime, annotator: AbstractBaseUser | None = None
) -> int:
    """Release the slots of the project's active assignments whose lock ran out (a batch of
    them, and all of `annotator`'s, who is about to get a new one)."""
    expired = Assignment.objects.filter(
        project=project, status=Assignment.Status.ACTIVE, expires_at__lte=now
    )
    stale = list(expired.order_by("pk").values_list("pk", "item_id")[:EXPIRE_BATCH])
    if annotator is not None and len(stale) == EXPIRE_BATCH:
        stale += expired.filter(annotator=annotator).values_list("pk", "item_id")
    if not stale:
        return 0  # the usual case: no write transaction at all
    return _assignments_release(stale)


@transaction.atomic
def _assignments_release(stale: list[tuple[int, int | None]]) -> int:
    """Mark the given (assignment, item) pairs expired and give their items a slot back."""
    released = 0
    for pk, item_id in stale:
        # Conditional: a submission or another request may have changed it meanwhile.
        changed = Assignment.objects.filter(pk=pk, status=Assignment.Status.ACTIVE).update(
            status=Assignment.Status.EXPIRED
        )
        if changed and item_id is not None:
            QueueItem.objects.filter(pk=item_id, taken__gt=0).update(taken=F("taken") - 1)
        released += changed
    return released


def _task_of_kind(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    kind: str,
    version: ModelVersion | None,
    now: datetime,
) -> Assignment | None:
    """A new assignment of `kind`, feeding the queue when no open item is left for the
    annotator; None when there is no work of this kind for them."""
    if kind == TaskKind.WRITE:
        with transaction.atomic():
            return _assignment_create(project=project, annotator=annotator, kind=kind, now=now)
    mixes_gold = kind in GOLD_KINDS and project.gold_share > 0
    gold = mixes_gold and rng.random() < project.gold_share
    claim = {"project": project, "annotator": annotator, "kind": kind, "version": version}
    feeds = 0
    while True:
        assignment = _slot_claim(**claim, now=now, gold=gold)
        if assignment is not None:
            return assignment
        if feeds >= MAX_FEEDS_PER_PICK:
            break
        feeds += 1
        looked, advanced = items_feed(project=project, kind=kind, version=version, now=now)
        if not looked or (not advanced and feeds > 1):
            break
    # Nothing else is open to them: the gold items they never had still are.
    return _slot_claim(**claim, now=now, gold=True) if mixes_gold and not gold else None


@transaction.atomic
def _slot_claim(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    kind: str,
    version: ModelVersion | None,
    now: datetime,
    gold: bool,
) -> Assignment | None:
    """Take one slot of the first open item (with `gold`, of a gold item the annotator never
    had, if there is one) and make the assignment, in one transaction."""
    unusable: list[int] = []  # items whose completions went missing since they were queued
    while (
        item := _item_claim(
            project=project,
            annotator=annotator,
            kind=kind,
            version=version,
            skip=unusable,
            gold=gold,
        )
    ) is not None:
        shown = _completions_to_show(project=project, item=item)
        if shown is not None:
            return _assignment_create(
                project=project, annotator=annotator, kind=kind, now=now, item=item, shown=shown
            )
        QueueItem.objects.filter(pk=item.pk).update(taken=F("taken") - 1)
        unusable.append(item.pk)
    return None


def _item_claim(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    kind: str,
    version: ModelVersion | None,
    skip: list[int],
    gold: bool,
) -> QueueItem | None:
    """Take one slot: with `gold`, of the first gold item the annotator never had (past the
    overlap); else, or when there is none, of the first open item."""
    if gold:
        mine = gold_items_open_to(project=project, kind=kind, version=version, annotator=annotator)
        item = _first_claimed(mine, skip=skip, overlap=None)
        if item is not None:
            return item
    candidates = open_items(project=project, kind=kind, version=version, annotator=annotator)
    return _first_claimed(candidates, skip=skip, overlap=project.overlap)


def _first_claimed(
    candidates: QuerySet[QueueItem], *, skip: list[int], overlap: int | None
) -> QueueItem | None:
    """Take one slot of the first candidate (below `overlap`, if given); its row lock keeps
    other requests off it.

    Items other requests hold are skipped; when those are all there is, wait for one of
    them (it may keep a free slot) rather than answer "no work" while work exists.
    """
    if skip:
        candidates = candidates.exclude(pk__in=skip)
    for _ in range(5):
        item = candidates.select_for_update(skip_locked=True).first()
        if item is None:
            if not candidates.exists():
                return None
            # Waits for the holder; comes back empty if the item filled up meanwhile.
            item = candidates.select_for_update().first()
            if item is None:
                continue
        slot = QueueItem.objects.filter(pk=item.pk)
        if overlap is not None:
            slot = slot.filter(taken__lt=overlap)
        if slot.update(taken=F("taken") + 1):
            return item
    return None


def _completions_to_show(*, project: Project, item: QueueItem) -> list[int] | None:
    """Completion ids in display order (shuffled against position bias); None if too few."""
    if item.kind not in COMPLETION_KINDS:
        return []
    if item.versus_id is not None:
        return _head_to_head_pair(project=project, item=item)
    ids = list(
        Completion.objects.filter(prompt_id=item.prompt_id, model_version_id=item.model_version_id)
        .order_by("pk")
        .values_list("pk", flat=True)[: project.completions_per_prompt]
    )
    if len(ids) < completions_needed(project=project, kind=item.kind):
        return None
    if item.kind == TaskKind.COMPARE:
        return _compare_pair(item=item, ids=ids)
    if item.kind == TaskKind.EDIT:
        return [rng.choice(ids)]
    rng.shuffle(ids)
    return ids


def _compare_pair(*, item: QueueItem, ids: list[int]) -> list[int]:
    """[left, right]: two of the completions, sides at random. On a gold prompt whose verdict
    names the best completion, that one is always of the two, so the judgement scores."""
    verdict = (
        Prompt.objects.filter(pk=item.prompt_id, gold_verdict__isnull=False)
        .values_list("gold_verdict", flat=True)
        .first()
    )
    best = verdict.get("best_completion") if isinstance(verdict, dict) else None
    if best not in ids:
        return rng.sample(ids, 2)  # sample order is the left/right position
    pair = [best, rng.choice([pk for pk in ids if pk != best])]
    rng.shuffle(pair)
    return pair


def _head_to_head_pair(*, project: Project, item: QueueItem) -> list[int] | None:
    """[left, right]: one completion of the live version and one of the version it replaced,
    each drawn at random, sides at random; None if either version has none left."""
    rows = Completion.objects.filter(
        prompt_id=item.prompt_id, model_version_id__in=(item.model_version_id, item.versus_id)
    ).order_by("pk")
    of_version: dict[int, list[int]] = defaultdict(list)
    for version_id, pk in rows.values_list("model_version_id", "pk"):
        if len(of_version[version_id]) < project.completions_per_prompt:
            of_version[version_id].append(pk)
    if not (of_version[item.model_version_id] and of_version[item.versus_id]):
        return None
    pair = [rng.choice(of_version[item.model_version_id]), rng.choice(of_version[item.versus_id])]
    rng.shuffle(pair)
    return pair


def _assignment_create(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    kind: str,
    now: datetime,
    item: QueueItem | None = None,
    shown: list[int] | None = None,
) -> Assignment:
    """The assignment row: what is shown (compare: left, right) and how long it is held."""
    shown = shown or []
    compare = kind == TaskKind.COMPARE
    assignment = Assignment.objects.create(
        project=project,
        prompt_id=item.prompt_id if item else None,
        item=item,
        annotator=annotator,
        kind=kind,
        completion_ids=shown,
        left_completion_id=shown[0] if compare else None,
        right_completion_id=shown[1] if compare else None,
        expires_at=now + timedelta(seconds=settings.ASSIGNMENT_LOCK_SECONDS),
    )
    return assignment


@transaction.atomic
def items_feed(
    *, project: Project, kind: str, version: ModelVersion | None, now: datetime | None = None
) -> tuple[bool, bool]:
    """Create queue items for the next batch past the kind's cursor: prompts for answer
    tasks, prompts whose completions of `version` are ready for the others.

    Returns (looked at any rows, cursor advanced). Creating an item twice is harmless.
    """
    now = now or timezone.now()
    cursor = _cursor(project=project, kind=kind, version=version)
    if version is None:
        rows = list(
            Prompt.objects.filter(project=project, pk__gt=cursor.position)
            .order_by("pk")
            .values_list("pk", "created_at", "pk")[:FEED_BATCH]
        )
        ready = sorted({prompt_id for _, _, prompt_id in rows})
    else:
        rows = list(
            Completion.objects.filter(model_version=version, pk__gt=cursor.position)
            .order_by("pk")
            .values_list("pk", "created_at", "prompt_id")[
                : FEED_BATCH * project.completions_per_prompt
            ]
        )
        counts = (
            Completion.objects.filter(
                model_version=version, prompt_id__in={prompt_id for _, _, prompt_id in rows}
            )
            .values("prompt_id")
            .annotate(completions=Count("pk"))
        )
        needed = completions_needed(project=project, kind=kind)
        ready = sorted(c["prompt_id"] for c in counts if c["completions"] >= needed)
    if not rows:
        return False, False
    versus = (
        head_to_head_prompts(project=project, live=version, prompt_ids=ready)
        if kind == TaskKind.COMPARE and version is not None and ready
        else {}
    )
    QueueItem.objects.bulk_create(
        [
            QueueItem(
                project=project,
                prompt_id=prompt_id,
                kind=kind,
                model_version=version,
                versus_id=versus.get(prompt_id),
            )
            for prompt_id in ready
        ],
        ignore_conflicts=True,
    )
    position = cursor.position
    for pk, created_at, _ in rows:
        if created_at > now - SETTLE:
            break
        position = pk
    seen = rows[-1][0]
    advanced = position > cursor.position
    if advanced or seen > cursor.seen:
        QueueCursor.objects.filter(pk=cursor.pk).update(
            position=Greatest("position", Value(position)), seen=Greatest("seen", Value(seen))
        )
    return True, advanced


def _cursor(*, project: Project, kind: str, version: ModelVersion | None) -> QueueCursor:
    """The kind's feed cursor, created at 0 the first time (by one request if several race)."""
    cursor = QueueCursor.objects.filter(project=project, kind=kind, model_version=version).first()
    if cursor is not None:
        return cursor
    try:
        with transaction.atomic():
            return QueueCursor.objects.create(project=project, kind=kind, model_version=version)
    except IntegrityError:  # another request created it first
        return QueueCursor.objects.get(project=project, kind=kind, model_version=version)


# --- taking submissions back -----------------------------------------------------------


@transaction.atomic
def judgement_submit(
    *,
    token: str | uuid.UUID,
    annotator: AbstractBaseUser,
    ranking: list | None = None,
    outcome: str | None = None,
    choice: str | None = None,
    ratings: dict | None = None,
    reason: str = "",
    time_spent_ms: int,
) -> Judgement:
    """Record the judgement of a rank, compare or rate task.

    rank: `ranking` as tie groups of completion ids best first ([[5], [7, 8], [6]]), or
    outcome "none_acceptable" / "cannot_judge" with a `reason`. compare: `choice` a (left),
    b (right), tie or both_bad. rate: `ratings` {completion id: {"thumb": "up"|"down",
    "helpful"/"honest"/"harmless": 1-5 (optional), "flags": [Judgement.Flag values]}}.
    A repeated submission of the same token returns the judgement already recorded.
    Raises ValidationError (keyed by field) for a payload to fix, SubmissionRefused when the
    submission no longer matches its task.
    """
    assignment = _assignment_for_submission(token=token, annotator=annotator)
    if assignment.status == Assignment.Status.SUBMITTED:
        existing = Judgement.objects.filter(assignment=assignment).first()
        if existing is None:
            raise SubmissionRefused(MSG_SUBMITTED)
        return existing
    if assignment.kind not in JUDGEMENT_KINDS:
        raise SubmissionRefused(MSG_TAKES_DEMONSTRATION)
    now = timezone.now()
    _assignment_check_open(assignment=assignment)
    fields = judgement_payload_clean(
        kind=assignment.kind,
        shown=assignment.completion_ids,
        outcome=outcome,
        ranking=ranking,
        choice=choice,
        ratings=ratings,
        reason=reason,
    )
    time_spent_ms = time_spent_clean(time_spent_ms)
    try:
        with transaction.atomic():
            judgement = Judgement.objects.create(
                assignment=assignment,
                prompt_id=assignment.prompt_id,
                annotator=annotator,
                kind=assignment.kind,
                left_completion_id=assignment.left_completion_id,
                right_completion_id=assignment.right_completion_id,
                time_spent_ms=time_spent_ms,
                **fields,
            )
    except IntegrityError:  # the same token, submitted twice at once
        existing = Judgement.objects.filter(assignment=assignment).first()
        if existing is None:
            raise
        return existing
    _assignment_finish(assignment=assignment, now=now, time_spent_ms=time_spent_ms)
    return judgement


@transaction.atomic
def demonstration_submit(
    *,
    token: str | uuid.UUID,
    annotator: AbstractBaseUser,
    output: str,
    instruction: str | None = None,
    input: str = "",
    category: str = "",
    time_spent_ms: int,
) -> Demonstration:
    """Record the demonstration of a write, answer or edit task.

    write: `instruction` (with optional `input`, `category`) becomes a new prompt of source
    "written". answer: the output for the task's prompt. edit: the fixed text of the shown
    completion, kept as its source_completion (the preference edited > original is derived
    from that, not stored). A repeated submission returns the demonstration already made.
    Raises ValidationError or SubmissionRefused as judgement_submit does.
    """
    assignment = _assignment_for_submission(token=token, annotator=annotator)
    if assignment.status == Assignment.Status.SUBMITTED:
        if assignment.demonstration_id is None:
            raise SubmissionRefused(MSG_SUBMITTED)
        return assignment.demonstration
    if assignment.kind not in DEMONSTRATION_KINDS:
        raise SubmissionRefused(MSG_TAKES_JUDGEMENT)
    now = timezone.now()
    _assignment_check_open(assignment=assignment)
    if not (output or "").strip():
        raise ValidationError({"output": gettext_lazy("Write the output.")})
    time_spent_ms = time_spent_clean(time_spent_ms)
    source_completion = None
    if assignment.kind == TaskKind.WRITE:
        prompt = _written_prompt_create(
            project=assignment.project, instruction=instruction, input=input, category=category
        )
        origin = Demonstration.Origin.WRITTEN
    elif assignment.kind == TaskKind.ANSWER:
        prompt, origin = assignment.prompt, Demonstration.Origin.ANSWERED
    else:
        prompt, origin = assignment.prompt, Demonstration.Origin.EDITED
        source_completion = Completion.objects.get(pk=assignment.completion_ids[0])
        if output.strip() == source_completion.text.strip():
            raise ValidationError(
                {
                    "output": gettext_lazy(
                        "The text is unchanged. Fix the completion, or skip the task."
                    )
                }
            )
    demonstration = Demonstration(
        prompt=prompt,
        output=output,
        origin=origin,
        author=annotator,
        source_completion=source_completion,
    )
    # The related objects are the ones just read; checking that they exist costs queries.
    demonstration.full_clean(exclude=["prompt", "author", "source_completion"])
    demonstration.save()
    assignment.prompt = prompt
    assignment.demonstration = demonstration
    _assignment_finish(
        assignment=assignment,
        now=now,
        time_spent_ms=time_spent_ms,
        fields=["prompt", "demonstration"],
    )
    return demonstration


@transaction.atomic
def task_skip(*, token: str | uuid.UUID, annotator: AbstractBaseUser, reason: str) -> None:
    """Give the task back with a reason; its slot goes to someone else, never to this
    annotator again. Skipping twice is harmless; skipping a submitted task is refused."""
    assignment = _assignment_for_submission(token=token, annotator=annotator)
    if assignment.status == Assignment.Status.SKIPPED:
        return
    if assignment.status == Assignment.Status.SUBMITTED:
        raise SubmissionRefused(MSG_SUBMITTED)
    if assignment.status == Assignment.Status.ACTIVE and assignment.item_id is not None:
        QueueItem.objects.filter(pk=assignment.item_id, taken__gt=0).update(taken=F("taken") - 1)
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = (reason or "").strip()
    assignment.save(update_fields=["status", "skip_reason"])


def _assignment_for_submission(
    *, token: str | uuid.UUID, annotator: AbstractBaseUser
) -> Assignment:
    """The token's assignment, row-locked so a second submission of it waits for the first."""
    try:
        token = token if isinstance(token, uuid.UUID) else uuid.UUID(str(token))
    except ValueError:
        raise SubmissionRefused(MSG_UNKNOWN) from None
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(token=token)
        .first()
    )
    if assignment is None:
        raise SubmissionRefused(MSG_UNKNOWN)
    if assignment.annotator_id != annotator.pk:
        raise SubmissionRefused(MSG_NOT_YOURS)
    return assignment


def _assignment_check_open(*, assignment: Assignment) -> None:
    """Refuse a submission whose task is gone; take the slot back after an unnoticed expiry.

    An assignment still active keeps its slot even past its lock (nobody has released it);
    a released one may submit only if a slot of its item is still free.
    """
    if assignment.status == Assignment.Status.SKIPPED:
        raise SubmissionRefused(MSG_SKIPPED)
    _completions_check(assignment=assignment)
    released = assignment.status == Assignment.Status.EXPIRED and assignment.item_id is not None
    if released and not _slot_retake(assignment=assignment):
        raise SubmissionRefused(MSG_SLOT_TAKEN)


def _slot_retake(*, assignment: Assignment) -> bool:
    """Take a slot of the released assignment's item again: one below the overlap, or any
    slot of a gold item (every annotator gets those once, past the overlap)."""
    project = assignment.project
    slot = QueueItem.objects.filter(pk=assignment.item_id)
    if slot.filter(taken__lt=project.overlap).update(taken=F("taken") + 1):
        return True
    version_id = slot.values_list("model_version_id", flat=True).first()
    gold = gold_items(project=project, kind=assignment.kind, version=version_id)
    return bool(gold.filter(pk=assignment.item_id).update(taken=F("taken") + 1))


def _completions_check(*, assignment: Assignment) -> None:
    """Refuse when a completion shown in the task no longer exists as it was."""
    shown = assignment.completion_ids
    if not shown:
        return
    present = Completion.objects.filter(pk__in=shown, prompt_id=assignment.prompt_id).count()
    if present != len(set(shown)):
        raise SubmissionRefused(MSG_CHANGED)


def _assignment_finish(
    *,
    assignment: Assignment,
    now: datetime,
    time_spent_ms: int,
    fields: list[str] | None = None,
) -> None:
    """Mark the assignment submitted (it keeps its slot: submitted work counts as taken)."""
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    assignment.time_spent_ms = time_spent_ms
    assignment.save(update_fields=["status", "submitted_at", "time_spent_ms", *(fields or [])])


def _written_prompt_create(
    *, project: Project, instruction: str | None, input: str, category: str
) -> Prompt:
    """The prompt of a write task; a duplicate of one already in the project is refused."""
    instruction = (instruction or "").strip()
    if not instruction:
        raise ValidationError({"instruction": gettext_lazy("Write the instruction.")})
    key = prompt_dedupe_key(instruction=instruction, input=input)
    if Prompt.objects.filter(project=project, dedupe_key=key).exists():
        raise ValidationError(
            {
                "instruction": gettext_lazy(
                    "This instruction (with this input) is already in the project."
                )
            }
        )
    return prompt_create(
        project=project,
        instruction=instruction,
        input=input,
        category=category.strip(),
        source="written",
    )
