"""Handing out tasks: the annotator's current task, else a slot claimed on an open item.

The kind follows the project's mix (round-robin, or drawn by the kinds' weights); kinds are
read from labeling.kinds (whether a kind is queued, shows completions, mixes gold in, how
many completions it shows).
"""

import random
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.db import sqlite_lock_retried
from labeling.kinds import Kind, Shows, kind_of
from labeling.models import Assignment, Completion, Project, Prompt, QueueItem
from labeling.selectors.queue import (
    assignment_current,
    completions_needed,
    completions_shown_by,
    gold_items_open_to,
    kinds_in_turn,
    open_items,
)
from labeling.services.queue.expiry import assignments_expire
from labeling.services.queue.feed import items_feed
from training.models import ModelVersion
from training.selectors.versions import live_version

# Looks past the feed cursor per request.
MAX_FEEDS_PER_PICK = 4

rng = random.Random()  # display order and compare sides; tests may seed it


@sqlite_lock_retried
def task_next(*, annotator: AbstractBaseUser, project: Project) -> Assignment | None:
    """The annotator's task: their current one while its lock lasts, else a new one.

    The kind follows the project's mix (round-robin, or drawn by the kinds' weights),
    skipping kinds with no work for this annotator (kinds that show completions have none
    while none are ready). None when there is nothing to do at all. Each step is its own
    short transaction (release expired locks, feed the queue, claim a slot), so no request
    holds locks of two steps at once.
    """
    now = timezone.now()
    latest = Assignment.objects.filter(annotator=annotator, project=project).order_by("-pk").first()
    preloaded = latest is not None and latest.status == Assignment.Status.PRELOADED
    current = latest
    if preloaded:  # the task after the current one, held off-screen: the latest row
        current = Assignment.objects.filter(
            annotator=annotator, project=project, status=Assignment.Status.ACTIVE
        ).first()
    active = current is not None and current.status == Assignment.Status.ACTIVE
    if active and current.expires_at > now:  # a reload shows the same task
        current.project = project
        return current
    assignments_expire(project=project, now=now, annotator=annotator)
    if preloaded and (shown := _preloaded_show(annotator=annotator, project=project, now=now)):
        return shown
    last_kind = latest.kind if latest else None
    return _task_claim(
        project=project,
        annotator=annotator,
        last_kind=last_kind,
        now=now,
        status=Assignment.Status.ACTIVE,
    )


@sqlite_lock_retried
def task_preload(*, annotator: AbstractBaseUser, project: Project) -> Assignment | None:
    """The task after the annotator's current one, claimed for them now (the same overlap
    rules and lock as task_next), so the workspace can hold it off-screen and show it the
    moment the current one is submitted.

    While its lock lasts, the one already preloaded comes back (a second tab or a reload gets
    the same task, as task_next gives a second claim the same current task). task_next makes
    it the active task; never shown, it is released by the expiry like any lock, with no
    judgement and no count. None without a current task or when nothing else is open.
    """
    now = timezone.now()
    latest = Assignment.objects.filter(annotator=annotator, project=project).order_by("-pk").first()
    if latest is None:
        return None
    if latest.status == Assignment.Status.PRELOADED and latest.expires_at > now:
        latest.project = project
        return latest
    if latest.status == Assignment.Status.PRELOADED:
        assignments_expire(project=project, now=now, annotator=annotator)
    elif latest.status != Assignment.Status.ACTIVE:
        return None  # nothing is shown: the next task_next claims, not this
    return _task_claim(
        project=project,
        annotator=annotator,
        last_kind=latest.kind,
        now=now,
        status=Assignment.Status.PRELOADED,
    )


def _preloaded_show(
    *, annotator: AbstractBaseUser, project: Project, now: datetime
) -> Assignment | None:
    """The preloaded task becomes the active one, with a full lock from now (its own, not what
    was left of it while it waited), its age counted from now (what the time spent on it is
    without JavaScript); None if it ran out meanwhile."""
    lock = now + timedelta(seconds=settings.ASSIGNMENT_LOCK_SECONDS)
    try:
        with transaction.atomic():
            shown = Assignment.objects.filter(
                annotator=annotator,
                project=project,
                status=Assignment.Status.PRELOADED,
                expires_at__gt=now,
            ).update(status=Assignment.Status.ACTIVE, expires_at=lock, created_at=now)
    except IntegrityError:  # another request of theirs made an active one first
        shown = 1
    return assignment_current(annotator=annotator, project=project) if shown else None


def _task_claim(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    last_kind: str | None,
    now: datetime,
    status: str,
) -> Assignment | None:
    """A new assignment in `status` (active, or preloaded), of the first kind in turn with
    work for the annotator; None when there is nothing to do at all."""
    live = None
    for kind in kinds_in_turn(project=project, last_kind=last_kind, rng=rng):
        spec = kind_of(kind)
        if spec.shows_completions:
            live = live or live_version(project)
            if live is None:
                continue
        try:
            assignment = _task_of_kind(
                project=project,
                annotator=annotator,
                kind=spec,
                version=live if spec.shows_completions else None,
                now=now,
                status=status,
            )
        except IntegrityError:
            # Another request of the same annotator made their active (or preloaded) one first.
            mine = Assignment.objects.filter(annotator=annotator, project=project, status=status)
            current = mine.select_related("project").first()
            if current is None:
                raise
            return current
        if assignment is not None:
            return assignment
    return None


def _task_of_kind(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    kind: Kind,
    version: ModelVersion | None,
    now: datetime,
    status: str = Assignment.Status.ACTIVE,
) -> Assignment | None:
    """A new assignment of `kind`, feeding the queue when no open item is left for the
    annotator; None when there is no work of this kind for them."""
    if not kind.queued:
        with transaction.atomic():
            return _assignment_create(
                project=project, annotator=annotator, kind=kind, now=now, status=status
            )
    mixes_gold = kind.takes_gold and project.gold_share > 0
    gold = mixes_gold and rng.random() < project.gold_share
    claim = {"project": project, "annotator": annotator, "kind": kind, "version": version}
    claim["status"] = status
    feeds = 0
    while True:
        assignment = _slot_claim(**claim, now=now, gold=gold)
        if assignment is not None:
            return assignment
        if feeds >= MAX_FEEDS_PER_PICK:
            break
        feeds += 1
        looked, advanced = items_feed(project=project, kind=kind.value, version=version, now=now)
        if not looked or (not advanced and feeds > 1):
            break
    # Nothing else is open to them: the gold items they never had still are.
    return _slot_claim(**claim, now=now, gold=True) if mixes_gold and not gold else None


@transaction.atomic
def _slot_claim(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    kind: Kind,
    version: ModelVersion | None,
    now: datetime,
    gold: bool,
    status: str,
) -> Assignment | None:
    """Take one slot of the first open item (with `gold`, of a gold item the annotator never
    had, if there is one) and make the assignment, in one transaction."""
    unusable: list[int] = []  # items whose completions went missing since they were queued
    while (
        item := _item_claim(
            project=project,
            annotator=annotator,
            kind=kind.value,
            version=version,
            skip=unusable,
            gold=gold,
        )
    ) is not None:
        shown = _completions_to_show(project=project, item=item, kind=kind)
        if shown is not None:
            return _assignment_create(
                project=project,
                annotator=annotator,
                kind=kind,
                now=now,
                item=item,
                shown=shown,
                status=status,
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


def _completions_to_show(*, project: Project, item: QueueItem, kind: Kind) -> list[int] | None:
    """Completion ids in display order (shuffled against position bias); None if too few."""
    if not kind.shows_completions:
        return []
    if item.versus_id is not None:
        return _head_to_head_pair(project=project, item=item)
    of_prompt = Completion.objects.filter(
        prompt_id=item.prompt_id, model_version_id=item.model_version_id
    )
    ids = list(
        completions_shown_by(of_prompt, kind)
        .order_by("pk")
        .values_list("pk", flat=True)[: project.completions_per_prompt]
    )
    if len(ids) < completions_needed(project=project, kind=kind.value):
        return None
    if kind.shows is Shows.PAIR:
        return _pair(item=item, ids=ids)
    if kind.shows is Shows.ONE:
        return [rng.choice(ids)]
    rng.shuffle(ids)
    return ids


def _pair(*, item: QueueItem, ids: list[int]) -> list[int]:
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
    rows = completions_shown_by(
        Completion.objects.filter(
            prompt_id=item.prompt_id, model_version_id__in=(item.model_version_id, item.versus_id)
        ),
        kind_of(item.kind),
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
    kind: Kind,
    now: datetime,
    item: QueueItem | None = None,
    shown: list[int] | None = None,
    status: str = Assignment.Status.ACTIVE,
) -> Assignment:
    """The assignment row: what is shown (a pair: left, right) and how long it is held."""
    shown = shown or []
    pair = kind.shows is Shows.PAIR
    return Assignment.objects.create(
        project=project,
        prompt_id=item.prompt_id if item else None,
        item=item,
        annotator=annotator,
        kind=kind.value,
        completion_ids=shown,
        left_completion_id=shown[0] if pair else None,
        right_completion_id=shown[1] if pair else None,
        status=status,
        expires_at=now + timedelta(seconds=settings.ASSIGNMENT_LOCK_SECONDS),
    )
