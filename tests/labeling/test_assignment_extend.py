"""Holding a task longer while its annotator works on it: the service, the workspace's
endpoint the page posts to, and the API's; anything but the caller's active task is refused."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.refusals import RefusalCode
from labeling.models import Assignment
from labeling.services.projects import membership_grant
from labeling.services.queue import (
    SubmissionRefused,
    assignment_extend,
    assignments_expire,
    task_next,
    task_skip,
)
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(settings):
    settings.ASSIGNMENT_LOCK_SECONDS = 600
    project = ProjectFactory(task_kinds=["rank"], completions_per_prompt=2, overlap=1)
    for _ in range(2):
        prompt = PromptFactory(project=project)
        CompletionFactory.create_batch(2, prompt=prompt)
    annotator = UserFactory()
    membership_grant(project=project, user=annotator, role="annotator")
    assignment = task_next(annotator=annotator, project=project)
    _expires_in(assignment, seconds=30)  # nearly run out
    return assignment


def _expires_in(assignment, *, seconds):
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() + timedelta(seconds=seconds)
    )
    assignment.refresh_from_db()


def _left(assignment) -> float:
    assignment.refresh_from_db()
    return (assignment.expires_at - timezone.now()).total_seconds()


def test_extending_holds_the_task_a_full_lock_from_now(task):
    assert _left(task) < 31
    assignment_extend(token=task.token, annotator=task.annotator)
    assert 590 < _left(task) <= 600
    # Past its lock but not yet released, it still holds its slot: extending keeps it.
    _expires_in(task, seconds=-5)
    assignment_extend(token=str(task.token), annotator=task.annotator)
    assert 590 < _left(task) <= 600
    assert task_next(annotator=task.annotator, project=task.project).pk == task.pk


def _refusal(token, annotator) -> RefusalCode:
    with pytest.raises(SubmissionRefused) as refused:
        assignment_extend(token=token, annotator=annotator)
    return refused.value.code


def test_only_the_callers_active_task_is_extended(task):
    other = UserFactory()
    membership_grant(project=task.project, user=other, role="annotator")
    assert _refusal(task.token, other) == RefusalCode.NOT_YOURS
    assert _refusal("not-a-token", task.annotator) == RefusalCode.UNKNOWN_TASK
    assert _left(task) < 31  # untouched
    _expires_in(task, seconds=-5)
    assignments_expire(project=task.project, now=timezone.now())  # released to the queue
    assert _refusal(task.token, task.annotator) == RefusalCode.TASK_EXPIRED
    task.refresh_from_db()
    assert task.status == Assignment.Status.EXPIRED and task.expires_at < timezone.now()

    skipped = task_next(annotator=task.annotator, project=task.project)
    task_skip(token=skipped.token, annotator=task.annotator, reason="unclear")
    assert _refusal(skipped.token, task.annotator) == RefusalCode.TASK_SKIPPED


def test_the_workspace_endpoint_extends_and_answers_json(client, task):
    url = reverse("labeling:workspace_extend", kwargs={"slug": task.project.slug})
    client.force_login(task.annotator)
    page = client.get(reverse("labeling:workspace", kwargs={"slug": task.project.slug}))
    html = page.content.decode()
    # The page says how long the task is held, and where to ask for more.
    assert f'data-extend-url="{url}"' in html and f'data-token="{task.token}"' in html
    assert "data-expires-at=" in html and "data-lock-warning" in html

    answer = client.post(url, {"token": str(task.token)})
    assert answer.status_code == 200
    assert 590 < _left(task) <= 600
    assert answer.json()["expires_at"] == task.expires_at.isoformat()

    other = UserFactory()
    membership_grant(project=task.project, user=other, role="annotator")
    client.force_login(other)
    refused = client.post(url, {"token": str(task.token)}, HTTP_ACCEPT_LANGUAGE="ko")
    assert refused.status_code == 409 and refused.json()["code"] == "not_yours"
    assert refused.json()["detail"] == "이 작업은 다른 작업자에게 배정되었습니다."
    assert client.get(url).status_code == 405


def test_the_api_extends_the_callers_task(task):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=task.annotator).key}")
    url = reverse("api:task_extend", args=[task.token])
    answer = api.post(url)
    assert answer.status_code == 200
    assert 590 < _left(task) <= 600
    assert answer.json() == {"expires_at": answer.json()["expires_at"]}
    assert answer.json()["expires_at"].startswith(task.expires_at.strftime("%Y-%m-%dT%H:%M:%S"))
    Assignment.objects.filter(pk=task.pk).update(status=Assignment.Status.SUBMITTED)
    refused = api.post(url)
    assert refused.status_code == 409 and refused.json()["code"] == "already_submitted"
