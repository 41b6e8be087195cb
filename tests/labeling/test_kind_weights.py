"""Per-kind weights: the admin's kind table, and the queue handing kinds out in proportion."""

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.models import Project
from labeling.services import queue
from labeling.services.queue import task_next, task_skip
from tests.factories import ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _kinds_handed_out(project, *, count):
    user = UserFactory()
    kinds = Counter()
    for _ in range(count):
        assignment = task_next(annotator=user, project=project)
        kinds[assignment.kind] += 1
        task_skip(token=assignment.token, annotator=user, reason="")
    return kinds


def test_weights_three_to_one_hand_out_about_three_writes_to_each_answer():
    project = ProjectFactory(task_kinds=["write", "answer"], task_kind_weights={"write": 3})
    PromptFactory.create_batch(120, project=project)
    queue.rng.seed(17)
    kinds = _kinds_handed_out(project, count=200)
    assert kinds["write"] + kinds["answer"] == 200
    assert 2.4 < kinds["write"] / kinds["answer"] < 3.8, kinds


def test_a_kind_of_weight_zero_comes_only_when_the_others_have_no_work():
    project = ProjectFactory(
        task_kinds=["write", "answer"], task_kind_weights={"write": 0, "answer": 1}
    )
    PromptFactory.create_batch(3, project=project)
    kinds = _kinds_handed_out(project, count=5)
    assert kinds == {"answer": 3, "write": 2}


def test_weights_cost_the_next_task_no_extra_query():
    """An answer task from a one-kind project and from a weighted mix: the same queries."""
    counts = {}
    mixes = {"plain": (["answer"], {}), "weighted": (["answer", "write"], {"write": 0})}
    for name, (kinds, weights) in mixes.items():
        project = ProjectFactory(task_kinds=kinds, task_kind_weights=weights)
        PromptFactory.create_batch(3, project=project)
        user = UserFactory()
        first = task_next(annotator=user, project=project)  # feeds the queue
        task_skip(token=first.token, annotator=user, reason="")
        with CaptureQueriesContext(connection) as captured:
            assignment = task_next(annotator=user, project=project)
        assert assignment.kind == "answer"
        counts[name] = len(captured)
    assert counts["weighted"] == counts["plain"], counts


# --- the admin's kind table ---------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _change_form_data(project, **overrides):
    data = {
        "name": project.name,
        "slug": project.slug,
        "guidelines": "",
        "overlap": 1,
        "prompt_selection": "order",
        "completions_per_prompt": 4,
        "temperature": 0.8,
        "top_p": 0.95,
        "max_tokens": 256,
        "gold_share": 0,
        "compare_share": 0.25,
        "text_template": project.text_template,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
        "memberships-MIN_NUM_FORMS": 0,
        "memberships-MAX_NUM_FORMS": 1000,
    }
    data.update(overrides)
    return data


def test_the_change_form_shows_a_checkbox_and_a_weight_for_each_kind(admin_client):
    project = ProjectFactory(task_kinds=["rank", "write"], task_kind_weights={"rank": 5})
    page = admin_client.get(reverse("admin:labeling_project_change", args=[project.pk]))
    html = page.content.decode()
    assert 'type="checkbox" name="task_kinds" value="rank" checked' in html
    assert 'type="checkbox" name="task_kinds" value="answer">' in html
    assert 'name="task_kinds_weight_rank" value="5"' in html
    assert 'name="task_kinds_weight_write" value="1"' in html
    assert "Rank completions" in html


def test_saving_the_kind_table_stores_kinds_and_weights(admin_client):
    project = ProjectFactory(task_kinds=["write"])
    url = reverse("admin:labeling_project_change", args=[project.pk])
    data = _change_form_data(
        project,
        task_kinds=["rank", "answer"],
        task_kinds_weight_rank="3",
        task_kinds_weight_answer="1",
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    project.refresh_from_db()
    assert project.task_kinds == ["answer", "rank"]
    assert project.task_kind_weights["rank"] == 3
    assert project.task_kind_weights["answer"] == 1


@pytest.mark.parametrize(
    ("kinds", "weights", "message"),
    [
        ([], {}, "Choose at least one task kind."),
        (["rank"], {"rank": "-2"}, "The weight of “Rank completions” cannot be negative."),
        (["rank"], {"rank": "1.5"}, "The weight of “Rank completions” must be a whole number."),
        (
            ["rank", "write"],
            {"rank": "0", "write": "0"},
            "All the chosen kinds weigh 0: give at least one a weight above 0.",
        ),
    ],
)
def test_the_kind_table_refuses_with_a_clear_message(admin_client, kinds, weights, message):
    project = ProjectFactory(task_kinds=["write"])
    url = reverse("admin:labeling_project_change", args=[project.pk])
    fields = {f"task_kinds_weight_{kind}": weight for kind, weight in weights.items()}
    response = admin_client.post(url, _change_form_data(project, task_kinds=kinds, **fields))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Project.objects.get(pk=project.pk).task_kinds == ["write"]


def test_the_model_refuses_weights_that_give_no_kind_a_turn():
    from django.core.exceptions import ValidationError

    project = ProjectFactory(task_kinds=["rank"])
    project.task_kind_weights = {"rank": 0}
    with pytest.raises(ValidationError, match="needs a weight above 0"):
        project.full_clean()
    project.task_kind_weights = {"rank": -1}
    with pytest.raises(ValidationError, match="cannot be negative"):
        project.full_clean()


def test_the_api_reads_and_changes_the_weights_and_refuses_all_zero():
    from labeling.services.projects import membership_grant
    from tests.api.conftest import client_for

    project = ProjectFactory(slug="weighed", task_kinds=["rank", "write"])
    admin = UserFactory()
    membership_grant(project=project, user=admin, role="admin")
    client, url = client_for(admin), reverse("api:project", args=["weighed"])
    changed = client.patch(url, {"task_kind_weights": {"rank": 4, "write": 1}}, format="json")
    assert changed.status_code == 200, changed.json()
    assert client.get(url).json()["task_kind_weights"] == {"rank": 4, "write": 1}
    refused = client.patch(url, {"task_kind_weights": {"rank": 0, "write": 0}}, format="json")
    assert refused.status_code == 400
    assert "needs a weight above 0" in str(refused.json())
    project.refresh_from_db()
    assert project.task_kind_weights == {"rank": 4, "write": 1}
