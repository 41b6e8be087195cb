"""Each annotator's speed, agreement with others and gold accuracy: on the quality dashboard
and on their own "My work" page, from judgements and demonstrations made through the queue."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.models import Membership, Role
from labeling.quality.agreement import JudgementRow, agreement_with_others, pair_orders
from labeling.selectors.quality import agreement_for, gold_accuracy_for
from labeling.selectors.scorecards import scorecard_of, scorecards_for
from labeling.services.gold import prompt_gold_set
from labeling.services.queue import demonstration_submit, judgement_submit, task_next
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

# Milliseconds each annotator spends on their rank and answer tasks, in the order they get them.
TIMES = {
    "alice": {"rank": [4000, 8000, 30000], "answer": [60000, 20000, 40000]},
    "bob": {"rank": [2000, 3000, 5000], "answer": [10000, 12000, 14000]},
}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _work(project, user, *, times, reversed_on=()):
    """Every task the queue gives `user`: rankings put the lower completion id first, except
    on the prompts in `reversed_on`; each task takes the time TIMES names."""
    times = {kind: list(spent) for kind, spent in times.items()}
    while (assignment := task_next(annotator=user, project=project)) is not None:
        spent = times[assignment.kind].pop(0)
        if assignment.kind == "answer":
            demonstration_submit(
                token=assignment.token, annotator=user, output="An answer.", time_spent_ms=spent
            )
            continue
        order = sorted(assignment.completion_ids)
        if assignment.prompt_id in reversed_on:
            order.reverse()
        judgement_submit(
            token=assignment.token,
            annotator=user,
            ranking=[[pk] for pk in order],
            time_spent_ms=spent,
        )
    assert times == {"rank": [], "answer": []}


@pytest.fixture
def judged():
    """Alice and Bob rank the same three prompts alike but for the last, which is gold and
    Bob gets wrong; both answer all three."""
    project = ProjectFactory(task_kinds=["rank", "answer"], overlap=5, completions_per_prompt=2)
    prompts = [PromptFactory(project=project) for _ in range(3)]
    for prompt in prompts:
        CompletionFactory.create_batch(2, prompt=prompt)
    low = min(prompts[2].completions.values_list("pk", flat=True))
    prompt_gold_set(prompt=prompts[2], verdict={"kind": "rank", "best_completion": low})
    users = {}
    for name in ("alice", "bob"):
        users[name] = UserFactory(username=name)
        Membership.objects.create(project=project, user=users[name], role=Role.ANNOTATOR)
    _work(project, users["alice"], times=TIMES["alice"])
    _work(project, users["bob"], times=TIMES["bob"], reversed_on={prompts[2].pk})
    return project, users


def _row(body, username):
    match = re.search(rf'<tr data-annotator="{username}">(.*?)</tr>', body, re.S)
    assert match, f"no row for {username}"
    return match.group(1)


def test_the_dashboard_shows_each_annotators_speed_agreement_and_gold(client, judged):
    project, _ = judged
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:labeling_project_quality", args=[project.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Rank completions: median seconds" in body
    alice, bob = _row(body, "alice"), _row(body, "bob")
    assert '<td data-kind="rank">8.0 s (3)</td>' in alice
    assert '<td data-kind="answer">40.0 s (3)</td>' in alice
    assert '<td data-kind="rank">3.0 s (3)</td>' in bob
    assert '<td data-kind="answer">12.0 s (3)</td>' in bob
    for row in (alice, bob):  # two of the three pairs ordered alike
        assert '<td data-figure="agreement-with-others">67% (2/3)</td>' in row
    assert '<td data-figure="gold">100% (1/1)</td>' in alice
    assert '<td data-figure="gold">0% (0/1)</td>' in bob


def test_my_work_shows_the_annotators_own_speed_and_agreement(client, judged):
    project, users = judged
    client.force_login(users["bob"])
    page = client.get(reverse("labeling:my_work", kwargs={"slug": project.slug}))
    body = page.content.decode()
    assert page.status_code == 200
    speed = re.search(r'data-figure="speed">(.*?)</table>', body, re.S).group(1)
    assert re.search(r'data-kind="rank"><td>Rank completions</td><td>3</td><td>3.0 s<', speed)
    assert re.search(r'data-kind="answer"><td>Answer a prompt</td><td>3</td><td>12.0 s<', speed)
    assert "8.0 s" not in body and "alice" not in body  # nothing of Alice's
    assert "You ordered 2 of 3 pairs of completions as another annotator did (67%)" in body
    assert "0 of 1 checked answers" in body


def test_the_figures_cost_the_same_few_queries_for_more_annotators(judged):
    project, _ = judged
    counts = []
    for extra in (0, 3):
        for index in range(extra):
            _work(project, UserFactory(username=f"carol{index}"), times=TIMES["alice"])
        agreement, gold = agreement_for(project), gold_accuracy_for(project)
        with CaptureQueriesContext(connection) as captured:
            cards = scorecards_for(project, agreement=agreement, gold=gold)
        counts.append(len(captured))
        assert len(cards.rows) == 2 + extra
    assert counts == [1, 1]
    bob = project.memberships.get(user__username="bob").user
    with CaptureQueriesContext(connection) as captured:
        card = scorecard_of(project=project, annotator=bob)
    assert len(captured) <= 5
    assert card.gold.correct == 0 and card.with_others.compared > 3


def test_agreement_with_others_counts_pairs_from_rankings_and_comparisons():
    rows = [
        JudgementRow(1, 10, "rank", ranking=[[1], [2], [3]]),
        JudgementRow(2, 10, "rank", ranking=[[1], [3], [2]]),  # agrees on 1>2 and 1>3
        JudgementRow(2, 11, "compare", choice="a", left=5, right=4),  # alone on its pair
        JudgementRow(3, 11, "compare", choice="b", left=4, right=5),  # 5 wins, as for 2
    ]
    shares = agreement_with_others(pair_orders(rows))
    assert (shares[1].agreed, shares[1].compared) == (2, 3)
    assert (shares[2].agreed, shares[2].compared) == (3, 4)
    assert (shares[3].agreed, shares[3].compared) == (1, 1)
