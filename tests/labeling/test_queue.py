"""The annotation queue: who gets which task, how often, and what a submission records."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.utils import timezone

from core.refusals import Refusal, RefusalCode
from labeling.models import Assignment, Demonstration, Judgement, Prompt, QueueItem, TaskKind
from labeling.selectors.queue import annotator_progress, queue_notice, task_view
from labeling.services import queue
from labeling.services.gold import prompt_gold_set
from labeling.services.queue import (
    SubmissionRefused,
    assignments_expire,
    demonstration_submit,
    judgement_submit,
    task_next,
    task_skip,
)
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

# Queue rules are about locks, constraints and transactions: they run on PostgreSQL too.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Annotators are made by the dozen here; their passwords need no real hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _project(*, kinds, prompts=1, completions=0, overlap=1, n=2):
    project = ProjectFactory(task_kinds=kinds, overlap=overlap, completions_per_prompt=n)
    for _ in range(prompts):
        prompt = PromptFactory(project=project)
        for _ in range(completions):
            CompletionFactory(prompt=prompt)
    return project


def _rank_all(assignment):
    """A valid ranking: the completions in the order shown, each its own group."""
    return [[pk] for pk in assignment.completion_ids]


def _expire(assignment):
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


# --- who gets what ----------------------------------------------------------------------


def test_overlap_three_annotators_get_the_prompt_the_fourth_does_not():
    project = _project(kinds=["answer"], overlap=3)
    prompt = project.prompts.get()
    got = [task_next(annotator=UserFactory(), project=project) for _ in range(3)]
    assert [a.prompt_id for a in got] == [prompt.pk] * 3
    assert task_next(annotator=UserFactory(), project=project) is None


def test_a_reload_shows_the_same_task():
    project = _project(kinds=["answer"], prompts=2)
    user = UserFactory()
    first = task_next(annotator=user, project=project)
    assert task_next(annotator=user, project=project).token == first.token


def test_an_annotator_never_gets_the_same_prompt_twice_even_after_skipping():
    project = _project(kinds=["answer"], overlap=2)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    task_skip(token=assignment.token, annotator=user, reason="Not my language")
    assert task_next(annotator=user, project=project) is None
    assignment.refresh_from_db()
    assert (assignment.status, assignment.skip_reason) == ("skipped", "Not my language")
    # The skipped slot went back to the queue: two others still get the prompt.
    assert task_next(annotator=UserFactory(), project=project) is not None
    assert task_next(annotator=UserFactory(), project=project) is not None
    assert task_next(annotator=UserFactory(), project=project) is None


def test_an_expired_lock_returns_the_prompt_to_the_queue():
    project = _project(kinds=["answer"])
    first = task_next(annotator=UserFactory(), project=project)
    assert task_next(annotator=UserFactory(), project=project) is None
    _expire(first)
    second = task_next(annotator=UserFactory(), project=project)
    assert second.prompt_id == first.prompt_id
    first.refresh_from_db()
    assert first.status == Assignment.Status.EXPIRED


def test_kinds_needing_completions_are_skipped_while_none_are_ready():
    project = _project(kinds=["rank", "answer"], prompts=2, n=2)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    assert assignment.kind == TaskKind.ANSWER
    assert "still being generated" in queue_notice(project)
    assert "Meanwhile you get answering tasks." in queue_notice(project)
    for prompt in project.prompts.all():
        CompletionFactory.create_batch(2, prompt=prompt)
    demonstration_submit(token=assignment.token, annotator=user, output="Fine.", time_spent_ms=5)
    assert task_next(annotator=user, project=project).kind == TaskKind.RANK
    assert queue_notice(project) is None


def test_a_model_server_that_is_down_is_named_in_the_notice():
    from serving.config import server_urls
    from serving.models import ModelServer

    project = _project(kinds=["compare", "write"], n=2)
    for url in server_urls():
        ModelServer.objects.create(url=url, state=ModelServer.State.DOWN)
    assert task_next(annotator=UserFactory(), project=project).kind == TaskKind.WRITE
    assert "model server is not answering" in queue_notice(project)


def test_the_mix_takes_turns_over_the_enabled_kinds():
    project = _project(kinds=["answer", "rank"], prompts=3, completions=2)
    user = UserFactory()
    kinds = []
    for _ in range(4):
        assignment = task_next(annotator=user, project=project)
        kinds.append(assignment.kind)
        task_skip(token=assignment.token, annotator=user, reason="")
    assert kinds == ["answer", "rank", "answer", "rank"]


def test_write_tasks_need_no_prompt_and_the_written_prompt_joins_the_project():
    project = _project(kinds=["write"], prompts=0)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    assert (assignment.kind, assignment.prompt) == (TaskKind.WRITE, None)
    assert task_view(assignment=assignment).prompt is None
    demonstration = demonstration_submit(
        token=assignment.token,
        annotator=user,
        instruction="Explain tides to a child.",
        input="",
        category="open_qa",
        output="The moon pulls the sea a little.",
        time_spent_ms=60_000,
    )
    prompt = Prompt.objects.get(project=project)
    assert (prompt.instruction, prompt.category, prompt.source) == (
        "Explain tides to a child.",
        "open_qa",
        "written",
    )
    assert (demonstration.prompt, demonstration.origin, demonstration.author) == (
        prompt,
        Demonstration.Origin.WRITTEN,
        user,
    )
    again = task_next(annotator=user, project=project)
    with pytest.raises(ValidationError, match="already in the project"):
        demonstration_submit(
            token=again.token,
            annotator=user,
            instruction="explain  tides to a child.",
            output="Same prompt again.",
            time_spent_ms=1,
        )


# --- gold items -------------------------------------------------------------------------


def _gold_project(*, prompts, gold, kinds=("rank", "compare"), overlap=1, n=2, share=1.0):
    """A project whose first `gold` prompts are gold (verdict: the first completion is best)."""
    project = _project(kinds=list(kinds), prompts=prompts, completions=n, overlap=overlap, n=n)
    project.gold_share = share  # set in the project's admin
    project.save(update_fields=["gold_share"])
    for prompt in project.prompts.order_by("pk")[:gold]:
        best = prompt.completions.order_by("pk").first()
        prompt_gold_set(prompt=prompt, verdict={"kind": "rank", "best_completion": best.pk})
    return project


def _submit(assignment, user):
    """A valid submission of the task (compare: left; rank: as shown; answer: "ok")."""
    token = assignment.token
    if assignment.kind == TaskKind.COMPARE:
        return judgement_submit(token=token, annotator=user, choice="a", time_spent_ms=1)
    if assignment.kind == TaskKind.RANK:
        ranking = _rank_all(assignment)
        return judgement_submit(token=token, annotator=user, ranking=ranking, time_spent_ms=1)
    return demonstration_submit(token=token, annotator=user, output="ok", time_spent_ms=1)


def _work_until_done(project, user) -> None:
    while (assignment := task_next(annotator=user, project=project)) is not None:
        _submit(assignment, user)


def _gold_prompt_ids(project) -> set[int]:
    return set(project.prompts.filter(gold_verdict__isnull=False).values_list("pk", flat=True))


@pytest.mark.parametrize("share", [1.0, 0.3])
def test_every_annotator_judges_every_gold_item_once_past_the_overlap(share):
    project = _gold_project(prompts=6, gold=2, share=share)
    annotators = [UserFactory() for _ in range(3)]
    for user in annotators:
        _work_until_done(project, user)
    gold = _gold_prompt_ids(project)
    judged = Counter(Judgement.objects.values_list("annotator_id", "prompt_id", "kind"))
    assert set(judged.values()) == {1}  # nobody judged anything twice
    for user in annotators:  # both kinds of both gold prompts, for each of the three
        assert {(p, k) for a, p, k in judged if a == user.pk and p in gold} == {
            (prompt_id, kind) for prompt_id in gold for kind in ("rank", "compare")
        }
    # Other prompts close after the overlap (1): one judgement per kind, whoever gave it.
    others = Counter((p, k) for _, p, k in judged if p not in gold)
    assert len(others) == 4 * 2 and set(others.values()) == {1}
    gold_items = QueueItem.objects.filter(prompt_id__in=gold)
    assert set(gold_items.values_list("taken", flat=True)) == {3}


def test_without_a_gold_share_gold_items_close_after_the_overlap_too():
    project = _gold_project(prompts=3, gold=1, kinds=("rank",), share=0.0)
    for _ in range(3):
        _work_until_done(project, UserFactory())
    assert Judgement.objects.count() == 3
    assert set(QueueItem.objects.values_list("taken", flat=True)) == {1}


def test_an_annotator_never_gets_a_gold_item_twice_after_skipping_or_expiry():
    project = _gold_project(prompts=3, gold=1, kinds=("rank",))
    gold_prompt = project.prompts.get(gold_verdict__isnull=False)
    first, second = UserFactory(), UserFactory()

    skipped = task_next(annotator=first, project=project)
    assert skipped.prompt_id == gold_prompt.pk  # the share is 1: gold comes first
    task_skip(token=skipped.token, annotator=first, reason="Unsure")
    expired = task_next(annotator=second, project=project)
    assert expired.prompt_id == gold_prompt.pk
    _expire(expired)
    for user in (first, second):
        _work_until_done(project, user)
    mine = Assignment.objects.filter(prompt=gold_prompt)
    assert Counter(mine.values_list("annotator_id", flat=True)) == {first.pk: 1, second.pk: 1}


def test_a_late_gold_submission_is_accepted_though_the_overlap_is_full():
    project = _gold_project(prompts=2, gold=1, kinds=("rank",))
    late_user = UserFactory()
    late = task_next(annotator=late_user, project=project)
    _expire(late)
    assignments_expire(project=project, now=timezone.now())
    other = UserFactory()
    taken = task_next(annotator=other, project=project)
    assert taken.prompt_id == late.prompt_id  # the overlap (1) is full once it is submitted
    _submit(taken, other)
    _submit(late, late_user)  # still gold: every annotator's judgement of it counts
    assert QueueItem.objects.get(prompt_id=late.prompt_id).taken == 2
    assert Judgement.objects.filter(prompt_id=late.prompt_id).count() == 2


def test_progress_and_notice_count_gold_items_past_the_overlap():
    project = _gold_project(prompts=2, gold=1, kinds=("rank",))
    _work_until_done(project, UserFactory())  # fills both items' overlap
    newcomer = UserFactory()
    assert annotator_progress(annotator=newcomer, project=project).left_in_queue == 1
    assert queue_notice(project, annotator=newcomer) is None
    _work_until_done(project, newcomer)
    assert Judgement.objects.filter(annotator=newcomer).count() == 1
    assert annotator_progress(annotator=newcomer, project=project).left_in_queue == 0


def test_a_gold_comparison_always_shows_the_best_completion():
    project = _gold_project(prompts=1, gold=1, kinds=("compare",), n=4)
    best = project.prompts.get().gold_verdict["best_completion"]
    shown = []
    for _ in range(8):
        assignment = task_next(annotator=UserFactory(), project=project)
        shown.append(assignment.completion_ids)
    assert all(best in pair for pair in shown)
    assert len({pair[0] == best for pair in shown}) == 2  # on either side
    assert len({pk for pair in shown for pk in pair}) > 2  # against different others


# --- submissions ------------------------------------------------------------------------


def test_double_submission_records_one_judgement():
    project = _project(kinds=["rank"], completions=3, n=3)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    first = judgement_submit(
        token=assignment.token, annotator=user, ranking=_rank_all(assignment), time_spent_ms=900
    )
    second = judgement_submit(
        token=str(assignment.token), annotator=user, ranking=_rank_all(assignment), time_spent_ms=5
    )
    assert first.pk == second.pk
    assert Judgement.objects.count() == 1
    assignment.refresh_from_db()
    assert (assignment.status, assignment.time_spent_ms) == ("submitted", 900)
    with pytest.raises(IntegrityError):  # the database holds the line too
        Judgement.objects.create(
            assignment=assignment,
            prompt=assignment.prompt,
            annotator=user,
            kind="rank",
            outcome="cannot_judge",
        )


def test_double_submission_records_one_demonstration():
    project = _project(kinds=["answer"])
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    first = demonstration_submit(
        token=assignment.token, annotator=user, output="A", time_spent_ms=1
    )
    second = demonstration_submit(
        token=assignment.token, annotator=user, output="B", time_spent_ms=1
    )
    assert first.pk == second.pk
    assert Demonstration.objects.get().origin == Demonstration.Origin.ANSWERED


def test_a_late_submission_is_accepted_while_nobody_took_the_slot():
    project = _project(kinds=["answer"])
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    _expire(assignment)
    assignments_expire(project=project, now=timezone.now())  # released, slot still free
    demonstration_submit(token=assignment.token, annotator=user, output="Late", time_spent_ms=1)
    assert QueueItem.objects.get().taken == 1
    assert task_next(annotator=UserFactory(), project=project) is None


def test_a_late_submission_is_refused_when_someone_else_took_the_slot():
    project = _project(kinds=["rank"], completions=2)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    _expire(assignment)
    assert task_next(annotator=UserFactory(), project=project).prompt_id == assignment.prompt_id
    with pytest.raises(SubmissionRefused, match="another annotator has taken it") as refused:
        judgement_submit(
            token=assignment.token, annotator=user, ranking=_rank_all(assignment), time_spent_ms=1
        )
    assert "was not saved" in refused.value.message
    assert not Judgement.objects.exists()


def test_a_submission_is_refused_when_the_completions_changed():
    project = _project(kinds=["rank"], completions=2)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    ranking = _rank_all(assignment)
    assignment.prompt.completions.filter(pk=assignment.completion_ids[0]).delete()
    with pytest.raises(SubmissionRefused, match="completions for this prompt changed"):
        judgement_submit(token=assignment.token, annotator=user, ranking=ranking, time_spent_ms=1)


def test_someone_elses_or_an_unknown_token_is_refused():
    project = _project(kinds=["answer"])
    assignment = task_next(annotator=UserFactory(), project=project)
    with pytest.raises(SubmissionRefused, match="another annotator"):
        demonstration_submit(
            token=assignment.token, annotator=UserFactory(), output="x", time_spent_ms=1
        )
    with pytest.raises(SubmissionRefused, match="not known"):
        task_skip(token="not-a-token", annotator=UserFactory(), reason="")


def test_each_refusal_carries_its_code():
    project = _project(kinds=["answer", "rank"], completions=2)
    user = UserFactory()
    answer = task_next(annotator=user, project=project)
    assert answer.kind == "answer"
    cases = [
        (lambda: task_skip(token="not-a-token", annotator=user, reason=""), "unknown_task"),
        (
            lambda: task_skip(token=answer.token, annotator=UserFactory(), reason=""),
            "not_yours",
        ),
        (
            lambda: judgement_submit(token=answer.token, annotator=user, time_spent_ms=1),
            "wrong_submission",
        ),
    ]
    for call, code in cases:
        with pytest.raises(SubmissionRefused) as refused:
            call()
        assert refused.value.code == code
    task_skip(token=answer.token, annotator=user, reason="not mine")
    with pytest.raises(SubmissionRefused) as refused:
        demonstration_submit(token=answer.token, annotator=user, output="x", time_spent_ms=1)
    assert refused.value.code == RefusalCode.TASK_SKIPPED
    assert isinstance(refused.value, Refusal)


def test_ranking_allows_ties_and_needs_every_completion_once():
    project = _project(kinds=["rank"], completions=4, n=4)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    a, b, c, d = assignment.completion_ids

    def submit(ranking):
        return judgement_submit(
            token=assignment.token, annotator=user, ranking=ranking, time_spent_ms=1
        )

    with pytest.raises(ValidationError, match=r"not ranked yet: #4"):
        submit([[a], [b, c]])
    with pytest.raises(ValidationError, match=r"ranked twice: #2"):
        submit([[a, b], [b, c], [d]])
    with pytest.raises(ValidationError, match="does not show"):
        submit([[a], [b], [c], [d], [d + 1000]])
    judgement = submit([[a], [b, c], [d]])
    assert (judgement.outcome, judgement.ranking) == ("ranked", [[a], [b, c], [d]])


def test_none_acceptable_needs_a_reason():
    project = _project(kinds=["rank"], completions=2)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    with pytest.raises(ValidationError, match="why"):
        judgement_submit(
            token=assignment.token, annotator=user, outcome="none_acceptable", time_spent_ms=1
        )
    judgement = judgement_submit(
        token=assignment.token,
        annotator=user,
        outcome="none_acceptable",
        reason="All of them invent facts.",
        time_spent_ms=1,
    )
    assert (judgement.ranking, judgement.reason) == (None, "All of them invent facts.")


def test_compare_sides_are_randomized_and_recorded():
    project = _project(kinds=["compare"], prompts=16, completions=2, n=2)
    user = UserFactory()
    lower_left = []
    for _ in range(16):
        assignment = task_next(annotator=user, project=project)
        left, right = assignment.completion_ids
        assert (assignment.left_completion_id, assignment.right_completion_id) == (left, right)
        view = task_view(assignment=assignment)
        assert (view.left.id, view.right.id) == (left, right)
        judgement = judgement_submit(
            token=assignment.token, annotator=user, choice="a", time_spent_ms=1
        )
        assert (judgement.left_completion_id, judgement.right_completion_id) == (left, right)
        lower_left.append(left < right)
    assert any(lower_left) and not all(lower_left)


def test_ratings_are_checked_per_completion():
    project = _project(kinds=["rate"], completions=2)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    first, second = assignment.completion_ids

    def submit(ratings):
        return judgement_submit(
            token=assignment.token, annotator=user, ratings=ratings, time_spent_ms=1
        )

    good = {"thumb": "up", "helpful": 5, "honest": 4, "harmless": 5}
    with pytest.raises(ValidationError, match="not rated yet: #2"):
        submit({first: good})
    with pytest.raises(ValidationError, match="helpful is a score from 1 to 5"):
        submit({first: good, second: {"thumb": "down", "helpful": 6}})
    with pytest.raises(ValidationError, match="unknown flags rude"):
        submit({first: good, second: {"thumb": "down", "flags": ["rude"]}})
    judgement = submit({first: good, str(second): {"thumb": "down", "flags": ["harmful"]}})
    assert judgement.ratings == {
        str(first): {**good, "flags": []},
        str(second): {"thumb": "down", "flags": ["harmful"]},
    }


def test_edit_stores_a_demonstration_from_the_shown_completion():
    project = _project(kinds=["edit"], completions=3, n=3)
    user = UserFactory()
    assignment = task_next(annotator=user, project=project)
    view = task_view(assignment=assignment)
    assert [c.id for c in view.completions] == assignment.completion_ids[:1]
    with pytest.raises(ValidationError, match="unchanged"):
        demonstration_submit(
            token=assignment.token,
            annotator=user,
            output=view.completions[0].text,
            time_spent_ms=1,
        )
    demonstration = demonstration_submit(
        token=assignment.token, annotator=user, output="A better answer.", time_spent_ms=1
    )
    assert demonstration.origin == Demonstration.Origin.EDITED
    assert demonstration.source_completion_id == assignment.completion_ids[0]
    assert demonstration.prompt_id == assignment.prompt_id


def test_the_task_view_shows_the_prompt_and_completions_but_no_other_annotators_work():
    project = _project(kinds=["answer", "rank"], completions=2, overlap=2)
    project.guidelines = "Be kind."
    project.save()
    other = UserFactory()
    theirs = task_next(annotator=other, project=project)
    demonstration_submit(token=theirs.token, annotator=other, output="SECRET", time_spent_ms=1)
    assignment = task_next(annotator=UserFactory(), project=project)
    view = task_view(assignment=assignment)
    assert view.kind == TaskKind.ANSWER
    assert view.prompt.instruction == assignment.prompt.instruction
    assert view.completions == []
    assert view.guidelines == "Be kind."
    assert "SECRET" not in repr(view)


def test_progress_counts_done_and_left():
    project = _project(kinds=["answer"], prompts=3)
    user = UserFactory()
    assert annotator_progress(annotator=user, project=project).left_in_queue == 3
    assignment = task_next(annotator=user, project=project)
    demonstration_submit(token=assignment.token, annotator=user, output="x", time_spent_ms=1)
    skipped = task_next(annotator=user, project=project)
    task_skip(token=skipped.token, annotator=user, reason="")
    progress = annotator_progress(annotator=user, project=project)
    assert (progress.done_today, progress.done_total, progress.left_in_queue) == (1, 1, 1)
    Assignment.objects.filter(pk=assignment.pk).update(
        submitted_at=timezone.now() - timedelta(days=2)
    )
    progress = annotator_progress(annotator=user, project=project)
    assert (progress.done_today, progress.done_total) == (0, 1)


# --- concurrency ------------------------------------------------------------------------


def _work_at_once(project, annotators) -> None:
    """The annotators start together, each in a thread of its own, and take and submit tasks
    until none is left; fails with the first error any of them met."""
    start = threading.Barrier(len(annotators))
    errors = []

    def work(user):
        try:
            start.wait()
            while (assignment := task_next(annotator=user, project=project)) is not None:
                _submit(assignment=assignment, user=user)
        except Exception as error:  # reported below, with the thread's traceback
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(user,)) for user in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_annotators_asking_at_once_never_exceed_the_overlap():
    """Eight annotators ask and submit at once; every slot is filled exactly once."""
    project = _project(kinds=["answer", "rank"], prompts=5, completions=2, overlap=2, n=2)
    _work_at_once(project, [UserFactory() for _ in range(8)])
    submitted = Assignment.objects.filter(status="submitted")
    per_slot = Counter(submitted.values_list("kind", "prompt_id"))
    assert len(per_slot) == 10 and set(per_slot.values()) == {2}
    per_person = Counter(submitted.values_list("kind", "prompt_id", "annotator_id"))
    assert set(per_person.values()) == {1}
    assert set(QueueItem.objects.values_list("taken", flat=True)) == {2}
    assert Judgement.objects.count() == 5 * 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_annotators_asking_at_once_each_judge_every_gold_item_once():
    """Six annotators work at once with gold in the mix: gold items go to each of them once,
    the others to exactly the overlap."""
    project = _gold_project(prompts=5, gold=2, overlap=2, share=0.5)
    _work_at_once(project, [UserFactory() for _ in range(6)])
    gold = _gold_prompt_ids(project)
    judged = Counter(Judgement.objects.values_list("annotator_id", "prompt_id", "kind"))
    assert set(judged.values()) == {1}
    per_item = Counter((p, k) for _, p, k in judged)
    assert {count for (p, _), count in per_item.items() if p in gold} == {6}
    assert {count for (p, _), count in per_item.items() if p not in gold} == {2}
    assert len(per_item) == 5 * 2


def test_the_module_seeds_display_order_from_one_generator():
    """Tests (and the benchmark) can make display order reproducible."""
    assert hasattr(queue.rng, "seed")
