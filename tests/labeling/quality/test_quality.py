"""Agreement, gold items, review and the leaderboard over real rows; the pages that show them."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from labeling.models import Demonstration, Judgement, Membership, Role
from labeling.selectors.quality import agreement_for, gold_accuracy_for, leaderboard_for
from labeling.services.gold import prompt_gold_set
from labeling.services.queue import judgement_submit, task_next
from labeling.services.review import demonstration_review
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory
from tests.labeling.exports.builders import compare, completions, demonstration, rank
from training.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def project():
    return ProjectFactory()


def _member(project, role=Role.ANNOTATOR, **kwargs):
    user = UserFactory(**kwargs)
    Membership.objects.create(project=project, user=user, role=role)
    return user


# --- agreement -------------------------------------------------------------------------------


def test_agreement_of_two_annotators_who_rank_alike_is_perfect(project):
    ann, bob, solo = (_member(project) for _ in range(3))
    for _ in range(2):
        prompt = PromptFactory(project=project)
        best, middle, worst = completions(prompt, "best", "middle", "worst")
        rank(prompt, ann, [best], [middle], [worst])
        rank(prompt, bob, [best], [middle], [worst])
    lone = PromptFactory(project=project)
    rank(lone, solo, *[[c] for c in completions(lone, "x", "y")])  # one annotator: left out

    agreement = agreement_for(project)
    assert agreement.ranking.alpha == pytest.approx(1.0)
    assert (agreement.prompts, agreement.judgements, agreement.ranking.units) == (2, 4, 6)
    assert agreement.taus[tuple(sorted((ann.pk, bob.pk)))].tau == pytest.approx(1.0)
    assert [a.mean_tau.items for a in agreement.annotators] == [2, 2]
    assert len(agreement.weeks) == 1 and agreement.weeks[0].ranking.alpha == pytest.approx(1.0)


def test_opposite_rankings_give_alpha_below_zero_and_since_filters(project):
    ann, bob = _member(project), _member(project)
    prompt = PromptFactory(project=project)
    first, second = completions(prompt, "one", "two")
    rank(prompt, ann, [first], [second])
    rank(prompt, bob, [second], [first])
    assert agreement_for(project).ranking.alpha == pytest.approx(-0.5)
    later = agreement_for(project, since=timezone.now() + timedelta(minutes=1))
    assert later.ranking.alpha is None and later.judgements == 0


# --- gold items ------------------------------------------------------------------------------


def test_gold_accuracy_counts_who_picked_the_expected_completion(project):
    ann, bob = _member(project), _member(project)
    prompt = PromptFactory(project=project)
    good, bad = completions(prompt, "good", "bad")
    prompt_gold_set(prompt=prompt, verdict={"kind": "compare", "best_completion": good.pk})
    compare(prompt, ann, good, bad, "a")
    compare(prompt, bob, bad, good, "a")
    accuracy = {row.annotator_id: (row.correct, row.scored) for row in gold_accuracy_for(project)}
    assert accuracy == {ann.pk: (1, 1), bob.pk: (0, 1)}


def test_a_gold_verdict_must_name_one_of_the_prompts_completions(project):
    prompt = PromptFactory(project=project)
    other = CompletionFactory(prompt=PromptFactory(project=project))
    with pytest.raises(ValidationError):
        prompt_gold_set(prompt=prompt, verdict={"kind": "rank", "best_completion": other.pk})


@pytest.mark.parametrize(("share", "expect_gold"), [(1.0, True), (0.0, False)])
def test_gold_share_mixes_gold_prompts_into_the_queue(share, expect_gold):
    project = ProjectFactory(task_kinds=["compare"], completions_per_prompt=2)
    project.gold_share = share  # set in the project's admin
    project.save(update_fields=["gold_share"])
    prompts = [PromptFactory(project=project) for _ in range(4)]
    for prompt in prompts:
        completions(prompt, "one", "two")
    prompt_gold_set(prompt=prompts[-1], verdict={"kind": "compare", "choice": "tie"})
    assignment = task_next(annotator=_member(project), project=project)
    assert (assignment.prompt_id == prompts[-1].pk) is expect_gold


def test_each_annotators_gold_accuracy_is_over_their_own_gold_judgements():
    """Overlap 1, three annotators: each judges both gold prompts through the queue, and is
    scored on exactly those two judgements."""
    project = ProjectFactory(task_kinds=["rank"], completions_per_prompt=2, overlap=1)
    project.gold_share = 0.5
    project.save(update_fields=["gold_share"])
    best_of = {}
    for index in range(5):
        prompt = PromptFactory(project=project)
        best, _ = completions(prompt, "right", "wrong")
        if index < 2:
            prompt_gold_set(prompt=prompt, verdict={"kind": "rank", "best_completion": best.pk})
            best_of[prompt.pk] = best.pk
    right, wrong, mixed = (_member(project) for _ in range(3))
    for user in (right, wrong, mixed):
        gold_seen = 0
        while (assignment := task_next(annotator=user, project=project)) is not None:
            shown = assignment.completion_ids
            best = best_of.get(assignment.prompt_id)
            correct = user == right or (user == mixed and gold_seen == 0)
            gold_seen += best is not None
            top = best if best is not None and correct else next(c for c in shown if c != best)
            ranking = [[top], [c for c in shown if c != top]]
            judgement_submit(
                token=assignment.token, annotator=user, ranking=ranking, time_spent_ms=1
            )
    accuracy = {row.annotator_id: (row.correct, row.scored) for row in gold_accuracy_for(project)}
    assert accuracy == {right.pk: (2, 2), wrong.pk: (0, 2), mixed.pk: (1, 2)}
    assert Judgement.objects.filter(prompt_id__in=best_of).count() == 6
    assert Judgement.objects.exclude(prompt_id__in=best_of).count() == 3  # overlap 1 each


# --- review ----------------------------------------------------------------------------------


def test_review_accepts_rejects_with_reason_and_corrects_keeping_the_original(project):
    author, reviewer = _member(project), _member(project, Role.REVIEWER)
    prompt = PromptFactory(project=project)
    kept, dropped, fixed = (demonstration(prompt, text, author=author) for text in "abc")

    demonstration_review(demonstration=kept, reviewer=reviewer, decision="accept")
    with pytest.raises(ValidationError):
        demonstration_review(demonstration=dropped, reviewer=reviewer, decision="reject")
    demonstration_review(
        demonstration=dropped, reviewer=reviewer, decision="reject", reason="Off topic"
    )
    demonstration_review(
        demonstration=fixed, reviewer=reviewer, decision="correct", corrected_output="c, fixed",
        reason="Typo",
    )  # fmt: skip
    fixed.refresh_from_db()
    assert kept.review_status == Demonstration.ReviewStatus.ACCEPTED
    assert dropped.review_status == Demonstration.ReviewStatus.REJECTED
    assert (fixed.review_status, fixed.output, fixed.original_output) == (
        "accepted",
        "c, fixed",
        "c",
    )
    assert fixed.reviewed_by == reviewer


def test_annotators_cannot_review(project):
    author, other = _member(project), _member(project)
    demo = demonstration(PromptFactory(project=project), "text", author=author)
    with pytest.raises(PermissionDenied):
        demonstration_review(demonstration=demo, reviewer=other, decision="accept")


def test_my_work_shows_the_review_and_reason_and_gold_accuracy(client, project):
    author, reviewer = _member(project), _member(project, Role.REVIEWER)
    prompt = PromptFactory(project=project)
    demo = demonstration(prompt, "my answer", author=author)
    demonstration_review(
        demonstration=demo, reviewer=reviewer, decision="reject", reason="Too vague"
    )
    demonstration(prompt, "someone else's", author=reviewer)
    good, bad = completions(prompt, "good", "bad")
    prompt_gold_set(prompt=prompt, verdict={"kind": "rank", "best_completion": good.pk})
    rank(prompt, author, [good], [bad])

    client.force_login(author)
    page = client.get(reverse("labeling:my_work", kwargs={"slug": project.slug}))
    body = page.content.decode()
    assert page.status_code == 200
    assert "my answer" in body and "Too vague" in body and "Rejected" in body
    assert "someone else" not in body
    assert "1 of 1" in body and "100%" in body
    workspace = client.get(reverse("labeling:workspace", kwargs={"slug": project.slug}))
    assert reverse("labeling:my_work", kwargs={"slug": project.slug}) in workspace.content.decode()


# --- leaderboard and dashboard ---------------------------------------------------------------


def _child_version(project):
    base = ModelVersion.objects.get(project=project, number=0)
    return ModelVersion.objects.create(
        project=project,
        number=1,
        parent=base,
        base_model_path=base.base_model_path,
        adapter_path="/adapters/v1",
        served_name=f"{project.slug}-v1",
    )


def _cross_version_judgements(project, child, annotator, *, wins=6, losses=2):
    for index in range(wins + losses):
        prompt = PromptFactory(project=project)
        (base_completion,) = completions(prompt, "base")
        new = CompletionFactory(prompt=prompt, model_version=child, text="child")
        compare(prompt, annotator, new, base_completion, "a" if index < wins else "b")


def test_leaderboard_ranks_the_version_humans_prefer(project):
    child = _child_version(project)
    _cross_version_judgements(project, child, _member(project))
    board = leaderboard_for(project, rounds=50)
    assert board.rows[0].version == child
    assert (board.judgements, board.votes) == (8, 8)
    assert board.rows[0].score.judgements == 8
    (parent,) = board.parents
    assert parent.rate.win_rate == pytest.approx(6 / 8) and parent.rate.judgements == 8


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_dashboard_renders_without_data(admin_client, project):
    url = reverse("admin:labeling_project_quality", args=[project.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b"No judgements compare completions of different versions yet." in page.content
    change = admin_client.get(reverse("admin:labeling_project_change", args=[project.pk]))
    assert url.encode() in change.content


def test_dashboard_shows_the_figures_behind_it(admin_client, project):
    ann, bob = _member(project, username="ann"), _member(project, username="bob")
    prompt = PromptFactory(project=project)
    first, second = completions(prompt, "one", "two")
    rank(prompt, ann, [first], [second])
    rank(prompt, bob, [first], [second])
    child = _child_version(project)
    _cross_version_judgements(project, child, ann, wins=3, losses=1)

    page = admin_client.get(reverse("admin:labeling_project_quality", args=[project.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert Judgement.objects.count() == 6
    assert 'data-figure="judgements-24h">6<' in body
    assert "1.000" in body  # the ranking alpha of ann and bob
    assert f"{project.slug}-v1" in body and "<svg" in body and "<rect" in body


def test_dashboard_is_for_the_projects_admins_only(client, project):
    outsider = UserFactory(is_staff=True)
    client.force_login(outsider)
    page = client.get(reverse("admin:labeling_project_quality", args=[project.pk]))
    assert page.status_code in (302, 403, 404)
