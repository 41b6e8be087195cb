"""The live version against the one it replaced: compare tasks that put one completion of each
side by side (blind, sides at random), the completions generation makes for them, the adapters
kept loaded for them, and the win rate admins read on the dashboard and in the API."""

import json
import socket

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.models import Completion, Judgement, Role
from labeling.quality.head_to_head import wilson_interval
from labeling.selectors.head_to_head import in_compare_share, version_head_to_head
from labeling.services import queue
from labeling.services.generation import completions_refill
from labeling.services.gold import prompt_gold_set
from labeling.services.projects import membership_grant
from labeling.services.queue import judgement_submit, task_next
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory
from tests.labeling.exports.builders import compare, judgement
from training.models import ModelVersion
from training.selectors.versions import adapters_to_serve
from training.services import versions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _published(*, share=1.0, kinds=("compare",), n=2, slug="h2h"):
    """A project whose v1 replaced the base model (v0, now retired): (project, v1, v0)."""
    project = ProjectFactory(
        slug=slug, task_kinds=list(kinds), completions_per_prompt=n, compare_share=share
    )
    base = project.model_versions.get(number=0)
    base.status = ModelVersion.Status.RETIRED
    base.save(update_fields=["status"])
    live = ModelVersion.objects.create(
        project=project,
        number=1,
        parent=base,
        base_model_path=base.base_model_path,
        adapter_path=f"/adapters/{slug}-v1",
        served_name=f"{slug}-v1",
        status=ModelVersion.Status.LIVE,
    )
    return project, live, base


def _prompt(project, live, replaced, *, replaced_completions=True):
    """A prompt with n neutral completions of the live version (and of the replaced one)."""
    prompt = PromptFactory(project=project)
    for version in (live, replaced) if replaced_completions else (live,):
        for index in range(project.completions_per_prompt):
            CompletionFactory(prompt=prompt, model_version=version, text=f"Answer {index}.")
    return prompt


def _versions_shown(assignment):
    left = Completion.objects.get(pk=assignment.left_completion_id)
    right = Completion.objects.get(pk=assignment.right_completion_id)
    return left.model_version_id, right.model_version_id


# --- the queue --------------------------------------------------------------------------


@pytest.mark.postgres  # locks, constraints and the aggregate's joins
def test_compare_tasks_of_the_share_show_one_completion_of_each_version_on_random_sides():
    queue.rng.seed(11)
    project, live, replaced = _published(share=1.0)
    for _ in range(12):
        _prompt(project, live, replaced)
    user = UserFactory()

    live_on_left = []
    for _ in range(12):
        assignment = task_next(annotator=user, project=project)
        left, right = _versions_shown(assignment)
        assert {left, right} == {live.pk, replaced.pk}
        live_on_left.append(left == live.pk)
        recorded = judgement_submit(
            token=assignment.token, annotator=user, choice="a", time_spent_ms=1
        )
        # The judgement names both completions, so the outcome is attributed to the versions.
        assert {
            recorded.left_completion.model_version_id,
            recorded.right_completion.model_version_id,
        } == {live.pk, replaced.pk}
    assert task_next(annotator=user, project=project) is None
    assert any(live_on_left) and not all(live_on_left)

    # Always choosing the left side: a win whenever the live version was on the left.
    result = version_head_to_head(project)
    assert (result.counts.wins, result.counts.losses, result.n) == (
        sum(live_on_left),
        12 - sum(live_on_left),
        12,
    )


@pytest.mark.postgres  # locks, constraints and the aggregate's joins
def test_prompts_outside_the_share_keep_comparing_two_completions_of_the_live_version():
    project, live, replaced = _published(share=0.5)
    prompts = [_prompt(project, live, replaced) for _ in range(16)]
    user = UserFactory()

    pairs = {}
    for _ in prompts:
        assignment = task_next(annotator=user, project=project)
        pairs[assignment.prompt_id] = set(_versions_shown(assignment))
        judgement_submit(token=assignment.token, annotator=user, choice="tie", time_spent_ms=1)

    in_share = {p.pk for p in prompts if in_compare_share(p.pk, 0.5)}
    assert 0 < len(in_share) < len(prompts)
    for prompt_id, versions_shown in pairs.items():
        expected = {live.pk, replaced.pk} if prompt_id in in_share else {live.pk}
        assert versions_shown == expected, prompt_id


@pytest.mark.postgres  # locks and constraints
def test_a_gold_prompts_head_to_head_item_keeps_its_overlap():
    """Gold items go to every annotator, but not head-to-head ones: votes on a few prompts
    from everyone would weigh them above the others in the win rate."""
    project, live, replaced = _published(share=1.0)
    project.gold_share = 1.0
    project.save(update_fields=["gold_share"])
    prompt = _prompt(project, live, replaced)
    prompt_gold_set(prompt=prompt, verdict={"kind": "compare", "choice": "a"})
    first = task_next(annotator=UserFactory(), project=project)
    assert set(_versions_shown(first)) == {live.pk, replaced.pk}
    assert task_next(annotator=UserFactory(), project=project) is None  # overlap 1


@pytest.mark.parametrize(
    "share, replaced_completions", [(0.0, True), (1.0, False)], ids=["share-0", "no-old-side"]
)
def test_without_share_or_completions_of_the_replaced_version_compare_stays_within_live(
    share, replaced_completions
):
    project, live, replaced = _published(share=share)
    for _ in range(3):
        _prompt(project, live, replaced, replaced_completions=replaced_completions)
    user = UserFactory()
    for _ in range(3):
        assignment = task_next(annotator=user, project=project)
        assert _versions_shown(assignment) == (live.pk, live.pk)
        judgement_submit(token=assignment.token, annotator=user, choice="a", time_spent_ms=1)
    assert version_head_to_head(project).n == 0


def test_nothing_shown_to_the_annotator_says_which_side_is_which_version(client):
    project, live, replaced = _published(share=1.0, kinds=("compare",))
    _prompt(project, live, replaced)
    _prompt(project, live, replaced)
    user = UserFactory()
    membership_grant(project=project, user=user, role=Role.ANNOTATOR)
    client.force_login(user)
    names = [live.served_name, replaced.served_name, "version"]

    page = client.get(reverse("labeling:workspace", kwargs={"slug": project.slug}))
    html = page.content.decode()
    assignment = task_next(annotator=user, project=project)
    assert page.status_code == 200 and 'data-kind="compare"' in html and 'data-side="b"' in html
    assert set(_versions_shown(assignment)) == {live.pk, replaced.pk}
    for name in names:
        assert name not in html, name

    api = APIClient()
    api.force_authenticate(user)
    judgement_submit(token=assignment.token, annotator=user, choice="b", time_spent_ms=1)
    body = api.get(reverse("api:task_next", args=[project.slug])).json()
    task = body["task"]
    assert task["kind"] == "compare"
    assert set(task["left"]) == set(task["right"]) == {"id", "text"}
    assert set(task) == {
        "kind", "kind_label", "token", "prompt", "completions", "left", "right",
        "expires_at", "guidelines", "project_name", "project_slug",
    }  # fmt: skip
    for name in names:
        assert name not in json.dumps(body), name


# --- the selector -----------------------------------------------------------------------


@pytest.mark.postgres  # locks, constraints and the aggregate's joins
def test_head_to_head_counts_choices_from_the_live_versions_side():
    project, live, replaced = _published(share=1.0)
    ann = UserFactory()

    def pair():
        prompt = PromptFactory(project=project)
        new = CompletionFactory(prompt=prompt, model_version=live, text="x")
        old = CompletionFactory(prompt=prompt, model_version=replaced, text="y")
        return prompt, new, old

    for choice, live_left in [("a", True), ("b", False), ("b", False), ("a", False)]:
        prompt, new, old = pair()
        left, right = (new, old) if live_left else (old, new)
        compare(prompt, ann, left, right, choice)  # wins, wins, wins, a loss
    for choice in ("tie", "both_bad"):
        prompt, new, old = pair()
        compare(prompt, ann, old, new, choice)
    # Not counted: a judge who could not judge, two completions of the same version, and
    # another project's head-to-head.
    prompt, new, old = pair()
    judgement(prompt, ann, kind="compare", shown=[new, old], outcome="cannot_judge", reason="?")
    prompt, new, _ = pair()
    compare(prompt, ann, new, CompletionFactory(prompt=prompt, model_version=live), "a")
    other, other_live, other_old = _published(slug="other")
    other_prompt = _prompt(other, other_live, other_old)
    shown = list(other_prompt.completions.order_by("model_version__number"))
    compare(other_prompt, ann, shown[0], shown[-1], "a")

    result = version_head_to_head(project)

    assert (result.live, result.comparison) == (live, replaced)
    counts = result.counts
    assert (counts.wins, counts.losses, counts.ties, counts.both_bad, result.n) == (3, 1, 1, 1, 6)
    assert result.win_rate == pytest.approx(4 / 6)  # ties and both-bad count half
    assert (result.low, result.high) == pytest.approx(wilson_interval(4, 6))
    assert result.low < 0.5 < result.high and result.verdict == "unclear"
    assert Judgement.objects.filter(prompt__project=project).count() == 8


def test_wilson_interval_matches_the_textbook_and_stays_within_zero_and_one():
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert (low, high) == pytest.approx((0.7225, 1.0), abs=1e-4) and high <= 1.0
    assert wilson_interval(0, 0) is None


def test_a_version_that_replaced_none_has_no_head_to_head():
    project = ProjectFactory()
    result = version_head_to_head(project)
    assert result.comparison is None and result.n == 0 and result.verdict is None


# --- where admins read it ---------------------------------------------------------------


def _judged(project, live, replaced, *, wins, losses):
    ann = UserFactory()
    for index in range(wins + losses):
        prompt = PromptFactory(project=project)
        new = CompletionFactory(prompt=prompt, model_version=live, text="x")
        old = CompletionFactory(prompt=prompt, model_version=replaced, text="y")
        compare(prompt, ann, old, new, "b" if index < wins else "a")


def test_the_quality_dashboard_says_whether_the_new_version_is_better(client):
    project, live, replaced = _published(share=0.25)
    _judged(project, live, replaced, wins=18, losses=2)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    url = reverse("admin:labeling_project_quality", args=[project.pk])

    body = client.get(url).content.decode()

    assert 'data-figure="head-to-head"' in body
    assert f"<td>h2h-v1</td><td>{replaced.served_name}</td>" in body
    assert "<td>18</td><td>2</td><td>0</td><td>0</td><td>20</td><td>0.90</td>" in body
    assert "25% of prompts" in body
    assert "h2h-v1 is better</strong>" in body

    _judged(project, live, replaced, wins=0, losses=18)  # 18 of 38 now
    assert "No clear difference yet" in client.get(url).content.decode()
    change = client.get(reverse("admin:labeling_project_change", args=[project.pk]))
    assert 'name="compare_share"' in change.content.decode()  # where admins set the share


def test_the_api_gives_admins_the_head_to_head():
    project, live, replaced = _published(share=0.25)
    _judged(project, live, replaced, wins=2, losses=6)
    admin, annotator = UserFactory(), UserFactory()
    membership_grant(project=project, user=admin, role=Role.ADMIN)
    membership_grant(project=project, user=annotator, role=Role.ANNOTATOR)
    api = APIClient()
    url = reverse("api:head_to_head", args=[project.slug])

    api.force_authenticate(annotator)
    assert api.get(url).status_code == 403
    api.force_authenticate(admin)
    body = api.get(url).json()

    assert body["live"] == "h2h-v1" and body["comparison"] == replaced.served_name
    assert (body["wins"], body["losses"], body["ties"], body["both_bad"], body["n"]) == (
        2,
        6,
        0,
        0,
        8,
    )
    assert body["win_rate"] == pytest.approx(0.25) and body["high"] < 0.7
    assert body["verdict"] == "unclear"
    patched = api.patch(reverse("api:project", args=[project.slug]), {"compare_share": 1.5})
    assert patched.status_code == 400 and "compare_share" in patched.json()
    patched = api.patch(reverse("api:project", args=[project.slug]), {"compare_share": 0.1})
    assert patched.json()["compare_share"] == 0.1


# --- generation and the adapters kept loaded --------------------------------------------


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize(
    "share, kinds, per_prompt",
    [(1.0, ["compare"], 2), (0.0, ["compare"], 1), (1.0, ["rank"], 1)],
    ids=["share", "share-0", "no-compare-tasks"],
)
def test_refill_asks_the_replaced_version_too_for_prompts_in_the_projects_share(
    settings, share, kinds, per_prompt
):
    settings.VLLM_URLS = [_dead_url()]  # requests are counted, then fail
    settings.VLLM_SEND_SEED = False
    project, _, _ = _published(share=share, kinds=kinds)
    for _ in range(3):
        PromptFactory(project=project)

    report = completions_refill(project=project)

    assert report.requests == 3 * per_prompt


def test_the_replaced_version_stays_loaded_while_it_is_compared(settings, monkeypatch):
    project, live, _ = _published(share=0.25, slug="keep")
    live.number = 2
    live.served_name = live.adapter_path = "keep-v2"
    live.save()
    ModelVersion.objects.create(  # v1: what v2 replaced, older than the recent candidates
        project=project,
        number=1,
        base_model_path="/m",
        adapter_path="/adapters/keep-v1",
        served_name="keep-v1",
        status=ModelVersion.Status.RETIRED,
    )
    for number in range(3, 7):
        ModelVersion.objects.create(
            project=project,
            number=number,
            base_model_path="/m",
            adapter_path=f"/adapters/keep-v{number}",
            served_name=f"keep-v{number}",
        )
    unloaded = []

    class Pool:
        def unload_adapter(self, *, name):
            unloaded.append(name)

        def close(self):
            pass

    monkeypatch.setattr(versions, "server_pool", Pool)

    assert sorted(a.name for a in adapters_to_serve(recent=3)) == [
        "keep-v1", "keep-v2", "keep-v4", "keep-v5", "keep-v6",
    ]  # fmt: skip
    assert versions.adapters_unload_old(project=project, keep=3) == ["keep-v3"]

    project.compare_share = 0.0  # no longer compared: v1 may go
    project.save(update_fields=["compare_share"])
    assert "keep-v1" not in {a.name for a in adapters_to_serve(recent=3)}
    assert versions.adapters_unload_old(project=project, keep=3) == ["keep-v3", "keep-v1"]
    assert unloaded == ["keep-v3", "keep-v3", "keep-v1"]


# --- with a real vLLM server ------------------------------------------------------------


@pytest.mark.vllm
def test_refill_makes_completions_of_both_versions_and_the_queue_pits_them(
    settings, vllm_server, random_lora_adapter
):
    """v1 is a LoRA adapter hot-loaded into the real server; v0, the base model it replaced,
    is served as itself. Each prompt gets n completions of each, and its compare task shows
    one of each."""
    settings.VLLM_URLS = [vllm_server.url]
    settings.VLLM_SEND_SEED = False
    settings.BASE_MODEL_NAME = vllm_server.served_name  # the base version (v0) serves as it
    project, live, replaced = _published(share=1.0, slug="h2h-vllm")
    live.adapter_path = str(random_lora_adapter)
    live.save(update_fields=["adapter_path"])
    project.max_tokens = 8
    project.save(update_fields=["max_tokens"])
    for topic in ("rain", "tea"):
        PromptFactory(project=project, instruction=f"Say one sentence about {topic}.")
    vllm_server.client.load_adapter(name=live.served_name, path=live.adapter_path)
    try:
        report = completions_refill(project=project)
    finally:
        vllm_server.client.unload_adapter(name=live.served_name)

    assert (report.requests, report.stored, report.refused) == (4, 8, 0), report
    for prompt in project.prompts.all():
        made = prompt.completions.values_list("model_version_id", flat=True)
        assert sorted(made) == sorted([live.pk] * 2 + [replaced.pk] * 2)
    user = UserFactory()
    for _ in range(2):
        assignment = task_next(annotator=user, project=project)
        assert set(_versions_shown(assignment)) == {live.pk, replaced.pk}
        judgement_submit(token=assignment.token, annotator=user, choice="tie", time_spent_ms=1)
    assert version_head_to_head(project).counts.ties == 2
