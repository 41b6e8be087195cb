"""Every endpoint by every role, against objects of a project the caller has no part in, and
against the caller's own project where the role is not enough: 401/403/404, never data."""

import pytest
from django.urls import reverse

from tests.api.conftest import ROLES, client_for

pytestmark = pytest.mark.django_db

# (name, method, url built from a World, body)
ENDPOINTS = [
    ("task_next", "get", lambda w: reverse("api:task_next", args=[w.project.slug]), None),
    (
        "judgement_submit",
        "post",
        lambda w: reverse("api:judgement_submit", args=[w.task.token]),
        {"ranking": [[1], [2]], "time_spent_ms": 1},
    ),
    (
        "demonstration_submit",
        "post",
        lambda w: reverse("api:demonstration_submit", args=[w.task.token]),
        {"output": "x", "time_spent_ms": 1},
    ),
    ("task_skip", "post", lambda w: reverse("api:task_skip", args=[w.task.token]), {}),
    ("task_extend", "post", lambda w: reverse("api:task_extend", args=[w.task.token]), {}),
    ("project", "get", lambda w: reverse("api:project", args=[w.project.slug]), None),
    (
        "project_patch",
        "patch",
        lambda w: reverse("api:project", args=[w.project.slug]),
        {"name": "x"},
    ),
    (
        "annotator_stats",
        "get",
        lambda w: reverse("api:annotator_stats", args=[w.project.slug]),
        None,
    ),
    ("prompt_import", "post", lambda w: reverse("api:prompt_import", args=[w.project.slug]), {}),
    (
        "documents_upload",
        "post",
        lambda w: reverse("api:documents_upload", args=[w.project.slug]),
        {},
    ),
    ("exports", "get", lambda w: reverse("api:exports", args=[w.project.slug]), None),
    (
        "export_create",
        "post",
        lambda w: reverse("api:exports", args=[w.project.slug]),
        {"format": "alpaca"},
    ),
    ("export", "get", lambda w: reverse("api:export", args=[w.export.pk]), None),
    ("export_again", "post", lambda w: reverse("api:export_again", args=[w.export.pk]), {}),
    (
        "export_file",
        "get",
        lambda w: reverse("api:export_file", args=[w.export.pk, "manifest.json"]),
        None,
    ),
    ("training_runs", "get", lambda w: reverse("api:training_runs", args=[w.project.slug]), None),
    (
        "training_run_create",
        "post",
        lambda w: reverse("api:training_runs", args=[w.project.slug]),
        {"method": "sft", "export": 0},
    ),
    ("training_run", "get", lambda w: reverse("api:training_run", args=[w.run.pk]), None),
    (
        "training_run_cancel",
        "post",
        lambda w: reverse("api:training_run_cancel", args=[w.run.pk]),
        {},
    ),
    ("model_versions", "get", lambda w: reverse("api:model_versions", args=[w.project.slug]), None),
    ("head_to_head", "get", lambda w: reverse("api:head_to_head", args=[w.project.slug]), None),
    (
        "model_version_publish",
        "post",
        lambda w: reverse("api:model_version_publish", args=[w.version.pk]),
        {},
    ),
    (
        "model_version_rollback",
        "post",
        lambda w: reverse("api:model_version_rollback", args=[w.version.pk]),
        {},
    ),
]
# What a member of the project itself gets where the role is not enough.
ADMIN_ONLY = {
    "project_patch",
    "annotator_stats",
    "prompt_import",
    "documents_upload",
    "exports",
    "export_create",
    "export",
    "export_again",
    "export_file",
    "training_runs",
    "training_run_create",
    "training_run",
    "training_run_cancel",
    "model_versions",
    "head_to_head",
    "model_version_publish",
    "model_version_rollback",
}
TASK_TOKEN = {"judgement_submit", "demonstration_submit", "task_skip", "task_extend"}


def _call(client, method, url, body):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


def _assert_no_data(response, *leaks):
    body = response.content.decode()
    for leak in leaks:
        assert leak not in body
    if response.get("Content-Type", "").startswith("application/json"):
        assert set(response.json()) <= {"detail"}, body


@pytest.mark.parametrize("role", ROLES)
def test_objects_of_another_project_are_never_shown_or_changed(mine, other, role):
    client = client_for(mine.user(role))
    expected = {401} if role == "anonymous" else {404}
    wrong = []
    for name, method, url, body in ENDPOINTS:
        response = _call(client, method, url(other), body)
        if response.status_code not in expected:
            wrong.append((name, response.status_code, response.content[:200]))
        _assert_no_data(response, "other completion")
    assert wrong == []
    other.run.refresh_from_db()
    other.project.refresh_from_db()
    other.task.refresh_from_db()
    assert not other.run.cancel_requested
    assert other.project.name == "other"
    assert other.task.status == "active"


def _expected_in_own_project(role: str, name: str) -> set[int]:
    if role == "anonymous":
        return {401}
    if name in TASK_TOKEN:  # the task was given to the annotator only
        return {404} if role != "annotator" else set()
    if role == "admin_elsewhere":
        return {404}
    if name in ADMIN_ONLY and role != "admin":
        return {403}
    return set()  # allowed: the endpoint tests cover it


@pytest.mark.parametrize("role", ROLES)
def test_a_role_below_the_operation_is_refused_in_its_own_project(mine, role):
    client = client_for(mine.user(role))
    wrong = []
    for name, method, url, body in ENDPOINTS:
        expected = _expected_in_own_project(role, name)
        if not expected:
            continue
        response = _call(client, method, url(mine), body)
        if response.status_code not in expected:
            wrong.append((name, response.status_code, response.content[:200]))
        _assert_no_data(response, "mine completion")
    assert wrong == []


def test_lists_of_own_work_show_nothing_of_other_people(mine, other):
    client = client_for(mine.annotator)
    for name in ("api:my_judgements", "api:my_demonstrations"):
        response = client.get(reverse(name), {"project": "other"})
        assert response.status_code == 200 and response.json()["results"] == []
    slugs = [p["slug"] for p in client.get(reverse("api:projects")).json()["results"]]
    assert slugs == ["mine"]
