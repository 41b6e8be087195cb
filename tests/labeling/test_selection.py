"""The project's prompt selection: in order, a stable shuffle, or the most uncertain first, for
the queue and for generation; the uncertainty figures behind it and the dashboard's view."""

import statistics
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from labeling.models import Completion, PromptUncertainty
from labeling.selectors.generation import prompts_needing_completions
from labeling.selectors.selection import queue_head, shuffle_key
from labeling.services.generation import completions_refill, completions_store, project_sampling
from labeling.services.projects import project_update
from labeling.services.queue import items_feed, judgement_submit, task_next
from labeling.services.uncertainty import uncertainty_votes_refresh
from labeling.tasks import generation_tick
from serving.vllm.client import ChatResult, Choice
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory
from tests.labeling.test_generation import _dead_url
from tests.labeling.test_head_to_head import _published
from training.selectors.versions import live_version

# The order is one indexed query on each database.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _project(*, selection="order", kinds=("rank",), overlap=1, n=2):
    project = ProjectFactory(task_kinds=list(kinds), overlap=overlap, completions_per_prompt=n)
    return project_update(project=project, prompt_selection=selection)


def _store(prompt, means):
    """Store one request's completions as the generation worker does: completion i's sampled
    tokens each have log-probability means[i], so its mean token log-probability is that."""
    project = prompt.project
    version = live_version(project)
    choices = [
        Choice(
            index=index,
            text=f"Answer {index} to prompt {prompt.pk}.",
            finish_reason="stop",
            logprobs=[{"token": "x", "logprob": mean}] * 3,
        )
        for index, mean in enumerate(means)
    ]
    result = ChatResult(
        model=version.served_name,
        choices=choices,
        prompt_tokens=7,
        completion_tokens=3 * len(choices),
        latency_ms=12,
        request_id=f"request-{prompt.pk}",
        seed=None,
    )
    sampling = project_sampling(project)
    return completions_store(prompt=prompt, version=version, sampling=sampling, result=result)


def _handed_out(project, annotators):
    """The prompt each new annotator gets, in turn (each keeps their task: overlap 1 closes it)."""
    return [task_next(annotator=annotator, project=project).prompt_id for annotator in annotators]


def _rank(user, project, *, best_first: bool):
    """Take the next task and rank its two completions: lower id first, or higher id first."""
    assignment = task_next(annotator=user, project=project)
    low, high = sorted(assignment.completion_ids)
    ranking = [[low], [high]] if best_first else [[high], [low]]
    judgement_submit(token=assignment.token, annotator=user, ranking=ranking, time_spent_ms=900)
    return assignment.prompt_id


# --- in order and random ----------------------------------------------------------------


def test_in_order_prompts_are_handed_out_oldest_first_whatever_their_uncertainty():
    project = _project(selection="order")
    prompts = [PromptFactory(project=project) for _ in range(4)]
    for prompt, spread in zip(prompts, (0.0, 0.9, 0.3, 0.6), strict=True):
        _store(prompt, [-1.0 - spread, -1.0 + spread])

    got = _handed_out(project, [UserFactory() for _ in prompts])

    assert got == [prompt.pk for prompt in prompts]
    assert prompts_needing_completions(project, 10) == []  # all have completions
    fresh = [PromptFactory(project=project) for _ in range(3)]
    assert prompts_needing_completions(project, 10) == fresh


def test_random_order_is_a_stable_shuffle_the_dashboard_shows_before_it_is_handed_out():
    project = _project(selection="random")
    prompts = [PromptFactory(project=project) for _ in range(10)]
    for prompt in prompts:
        _store(prompt, [-1.0, -1.5])
    annotators = [UserFactory() for _ in prompts]

    first = task_next(annotator=annotators[0], project=project).prompt_id  # feeds the queue
    shown = [row.prompt_id for row in queue_head(project, limit=20)]
    assert shown == [row.prompt_id for row in queue_head(project, limit=20)]  # stable
    rest = _handed_out(project, annotators[1:])

    assert rest == shown
    got = [first, *rest]
    assert sorted(got) == sorted(prompt.pk for prompt in prompts)
    assert got != sorted(got)  # not the order they were made in


def test_random_generation_takes_the_same_shuffle_as_the_queue():
    project = _project(selection="random")
    prompts = [PromptFactory(project=project) for _ in range(12)]

    picked = prompts_needing_completions(project, 5)

    assert picked == prompts_needing_completions(project, 5)  # stable over refills
    by_shuffle = sorted(prompts, key=lambda p: shuffle_key(project_id=project.pk, prompt_id=p.pk))
    assert picked == by_shuffle[:5]
    assert picked != prompts[:5]


# --- uncertainty ------------------------------------------------------------------------


def test_the_most_uncertain_prompt_is_handed_out_first():
    project = _project(selection="uncertainty")
    sure, unsure, between = (PromptFactory(project=project) for _ in range(3))
    _store(sure, [-0.8, -0.8])  # both completions equally likely: spread 0
    _store(unsure, [-0.2, -2.0])  # spread 0.9 nats
    _store(between, [-0.5, -1.1])  # spread 0.3 nats

    got = _handed_out(project, [UserFactory() for _ in range(3)])

    assert got == [unsure.pk, between.pk, sure.pk]
    figures = {row.prompt_id: row for row in PromptUncertainty.objects.all()}
    assert figures[unsure.pk].completions_spread == pytest.approx(0.9)
    assert figures[between.pk].completions_spread == pytest.approx(0.3)
    assert figures[sure.pk].completions_spread == pytest.approx(0.0)
    assert figures[sure.pk].score == 0.0 < figures[between.pk].score < figures[unsure.pk].score
    means = Completion.objects.filter(prompt=unsure).order_by("index")
    assert [c.mean_logprob for c in means] == [pytest.approx(-0.2), pytest.approx(-2.0)]


def test_split_votes_raise_a_prompt_above_one_the_annotators_agree_on(settings):
    settings.VLLM_URLS = [_dead_url()]  # the tick needs no model server for this
    project = _project(selection="uncertainty", overlap=3)
    agreed, split = PromptFactory(project=project), PromptFactory(project=project)
    for prompt in (agreed, split):
        for index in range(2):  # no log-probabilities: only the votes can tell them apart
            CompletionFactory(prompt=prompt, text=f"Answer {index}.")
    ann, bob = UserFactory(), UserFactory()

    assert _rank(ann, project, best_first=True) == agreed.pk  # same score: oldest first
    assert _rank(bob, project, best_first=True) == agreed.pk
    assert _rank(ann, project, best_first=True) == split.pk
    assert _rank(bob, project, best_first=False) == split.pk
    assert not PromptUncertainty.objects.exists()  # submitting computes nothing
    assert generation_tick.call()["votes_refreshed"] == 2  # the worker counts the votes

    figures = {row.prompt_id: row for row in PromptUncertainty.objects.all()}
    assert figures[agreed.pk].votes_split == 0.0 and figures[agreed.pk].score == 0.0
    assert figures[split.pk].votes_split == 1.0 and figures[split.pk].score == 1.0
    # Both items have two of three slots taken: the third annotator gets the split one.
    assert task_next(annotator=UserFactory(), project=project).prompt_id == split.pk
    later = timezone.now() + timedelta(minutes=1)  # once settled, votes are counted once
    assert uncertainty_votes_refresh(project=project, now=later) == 2
    assert uncertainty_votes_refresh(project=project, now=later) == 0


def test_generation_first_samples_what_the_replaced_version_was_unsure_of():
    project, live, replaced = _published(kinds=("rank",), slug="unsure")
    project_update(project=project, prompt_selection="uncertainty")
    old, calm, doubtful, new = (PromptFactory(project=project) for _ in range(4))
    for prompt, score in ((calm, 0.1), (doubtful, 0.8)):
        PromptUncertainty.objects.create(prompt=prompt, model_version=replaced, score=score)

    picked = prompts_needing_completions(project, 3, version=live)

    assert picked == [doubtful, calm, old]
    project_update(project=project, prompt_selection="order")
    assert prompts_needing_completions(project, 4, version=live) == [old, calm, doubtful, new]


# task_next once the queue is fed (as many as in order): the current task, expiry (active and
# preloaded tasks, one partial index each), the live version, the pick, the claim, the
# completions to show, the assignment (and savepoints).
TASK_NEXT_QUERIES = 10


def _task_next_queries(prompts: int, assert_max_queries) -> list[str]:
    """The SQL of one annotator's task_next once the queue is fed, in a project of `prompts`."""
    project = _project(selection="uncertainty")
    for index in range(prompts):
        _store(PromptFactory(project=project), [-1.0, -1.0 - index / prompts])
    task_next(annotator=UserFactory(), project=project)  # the first request feeds the queue
    annotator = UserFactory()
    with assert_max_queries(TASK_NEXT_QUERIES) as captured:
        assignment = task_next(annotator=annotator, project=project)
    assert assignment is not None
    return [query["sql"] for query in captured.captured_queries]


def test_task_next_orders_by_stored_scores_in_a_bounded_number_of_queries(
    django_assert_max_num_queries,
):
    small = _task_next_queries(3, django_assert_max_num_queries)
    large = _task_next_queries(40, django_assert_max_num_queries)

    assert len(small) == len(large)  # nothing grows with the project
    picks = [sql for sql in large if 'FROM "labeling_queueitem"' in sql and "ORDER BY" in sql]
    assert len(picks) == 1 and "uncertainty" in picks[0].split("ORDER BY")[1]
    assert not any("labeling_promptuncertainty" in sql for sql in large)  # no scoring here


# --- the setting and the dashboard ------------------------------------------------------


def test_the_setting_is_in_the_api_and_a_bad_value_is_refused_by_name():
    from labeling.services.projects import membership_grant
    from tests.api.conftest import client_for

    project = _project()
    admin = UserFactory()
    membership_grant(project=project, user=admin, role="admin")
    client, url = client_for(admin), reverse("api:project", args=[project.slug])

    assert client.get(url).json()["prompt_selection"] == "order"
    changed = client.patch(url, {"prompt_selection": "uncertainty"}, format="json")
    assert changed.status_code == 200 and changed.json()["prompt_selection"] == "uncertainty"
    refused = client.patch(url, {"prompt_selection": "loudest"}, format="json")
    assert refused.status_code == 400 and "prompt_selection" in refused.json()
    project.refresh_from_db()
    assert project.prompt_selection == "uncertainty"


def test_the_dashboard_names_the_selection_and_lists_the_queue_with_scores(client):
    project = _project(selection="uncertainty")
    sure = PromptFactory(project=project, instruction="Say hi.")
    unsure = PromptFactory(project=project, instruction="Explain entropy.")
    between = PromptFactory(project=project, instruction="Name a colour.")
    _store(sure, [-0.8, -0.8])
    _store(unsure, [-0.2, -2.0])
    _store(between, [-0.5, -1.1])
    items_feed(project=project, kind="rank", version=live_version(project))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(reverse("admin:labeling_project_quality", args=[project.pk]))
    body = page.content.decode()

    assert 'data-figure="prompt-selection">Most uncertain first<' in body
    head = body.split('data-figure="queue-head"')[1].split("</table>")[0]
    assert head.index("Explain entropy.") < head.index("Name a colour.") < head.index("Say hi.")
    score = PromptUncertainty.objects.get(prompt=unsure).score
    assert f"{score:.2f}" in head and "0.900" in head and "0.300" in head


# --- with a real vLLM server ------------------------------------------------------------


@pytest.mark.vllm
def test_real_completions_carry_their_spread_and_the_most_uncertain_goes_first(
    live_server_settings,
):
    project = ProjectFactory(task_kinds=["rank"], completions_per_prompt=4)
    project = project_update(
        project=project, prompt_selection="uncertainty", temperature=1.0, max_tokens=16
    )
    instructions = ("Name a prime number.", "Write a haiku about rain.", "Describe a cloud.")
    prompts = [PromptFactory(project=project, instruction=text) for text in instructions]

    report = completions_refill(project=project)

    assert report.stored == 12 and not report.server_down
    for prompt in prompts:
        means = [c.mean_logprob for c in Completion.objects.filter(prompt=prompt)]
        assert len(means) == 4 and all(mean < 0 for mean in means)
        figures = PromptUncertainty.objects.get(prompt=prompt)
        assert figures.completions_spread == pytest.approx(statistics.pstdev(means))
        # Four samples can come out the same (a short answer of a small model): no spread.
        texts = set(Completion.objects.filter(prompt=prompt).values_list("text", flat=True))
        assert (figures.completions_spread > 0) == (len(texts) > 1 and len(set(means)) > 1)
        assert 0 <= figures.score < 1 and (figures.score > 0) == (figures.completions_spread > 0)
    most = PromptUncertainty.objects.order_by("-score").first().prompt_id
    assert task_next(annotator=UserFactory(), project=project).prompt_id == most
