"""The workspace's preloaded task, server side: the page holds the next task claimed for the
annotator (one, whatever the tabs), it becomes theirs when the current one is done (with or
without JavaScript), it is held while they work, and never shown it is released by the
expiry and counts nowhere."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import Assignment, Judgement, QueueItem
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory
from tests.labeling.test_workspace_views import _annotator, _url

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _project(*, prompts=2, n=4, overlap=1):
    project = ProjectFactory(task_kinds=["rank"], completions_per_prompt=n, overlap=overlap)
    for _ in range(prompts):
        prompt = PromptFactory(project=project)
        for _ in range(n):
            CompletionFactory(prompt=prompt)
    return project


def _held(user, status):
    return Assignment.objects.get(annotator=user, status=status)


def _rank_post(assignment):
    data = {"token": str(assignment.token), "kind": "rank", "time_spent_ms": "3000"}
    data["completion"] = [str(pk) for pk in assignment.completion_ids]
    for rank, pk in enumerate(assignment.completion_ids, start=1):
        data[f"rank_{pk}"] = str(rank)
    return data


def _preloaded_html(html: str) -> str:
    return html.split("<template data-preload", 1)[1]


def test_the_page_holds_the_next_task_claimed_for_the_annotator(client):
    project = _project()
    user = _annotator(client, project)
    html = client.get(_url(project)).content.decode()
    current, preloaded = _held(user, "active"), _held(user, "preloaded")
    assert current.item_id != preloaded.item_id
    assert f'data-preload data-token="{preloaded.token}"' in html
    assert str(current.token) in html.split("<template data-preload")[0]
    # A reload, a second tab, the fragment: the same current task and the same next one.
    again = client.get(_url(project), **HTMX).content.decode()
    assert str(current.token) in again and f'data-token="{preloaded.token}"' in again
    assert Assignment.objects.filter(annotator=user).count() == 2
    # Both slots are held for the annotator, so nobody else gets them meanwhile.
    assert sorted(QueueItem.objects.filter(project=project).values_list("taken", flat=True)) == [
        1,
        1,
    ]


def test_submitting_makes_the_preloaded_task_current_with_a_fresh_lock(client):
    project = _project(prompts=3)
    user = _annotator(client, project)
    client.get(_url(project))
    first, preloaded = _held(user, "active"), _held(user, "preloaded")
    Assignment.objects.filter(pk=preloaded.pk).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )
    html = client.post(_url(project), _rank_post(first), **HTMX).content.decode()
    assert Judgement.objects.filter(assignment=first).exists()
    shown = _held(user, "active")
    assert shown.pk == preloaded.pk
    assert shown.expires_at > timezone.now() + timedelta(minutes=10)  # its own full lock
    after = _held(user, "preloaded")
    assert str(shown.token) in html.split("<template data-preload")[0]
    assert f'data-token="{after.token}"' in html


def test_without_javascript_the_plain_post_redirects_to_the_preloaded_task(client):
    project = _project(prompts=3)
    user = _annotator(client, project)
    client.get(_url(project))
    first, preloaded = _held(user, "active"), _held(user, "preloaded")
    # Claimed long before it is shown: its time counts from when it is shown.
    Assignment.objects.filter(pk=preloaded.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    plain = _rank_post(first)
    del plain["time_spent_ms"]  # no JavaScript: the server measures the assignment's age
    response = client.post(_url(project), plain)
    assert response.status_code == 302 and response.url == _url(project)
    page = client.get(_url(project)).content.decode()
    assert str(preloaded.token) in page.split("<template data-preload")[0]
    assert _held(user, "active").pk == preloaded.pk
    plain = _rank_post(preloaded)
    del plain["time_spent_ms"]
    client.post(_url(project), plain)
    assert Judgement.objects.get(assignment=preloaded).time_spent_ms < 60_000


def test_skipping_the_current_task_gives_the_preloaded_one(client):
    project = _project(prompts=3)
    user = _annotator(client, project)
    client.get(_url(project))
    first, preloaded = _held(user, "active"), _held(user, "preloaded")
    skip = {"token": str(first.token), "reason": "Not my language"}
    html = client.post(_url(project, "labeling:workspace_skip"), skip, **HTMX).content.decode()
    assert str(preloaded.token) in html.split("<template data-preload")[0]
    assert _held(user, "active").pk == preloaded.pk


def test_working_on_the_current_task_holds_the_preloaded_one_too(client):
    project = _project()
    user = _annotator(client, project)
    client.get(_url(project))
    current, preloaded = _held(user, "active"), _held(user, "preloaded")
    soon = timezone.now() + timedelta(seconds=20)
    Assignment.objects.filter(annotator=user).update(expires_at=soon)
    response = client.post(_url(project, "labeling:workspace_extend"), {"token": current.token})
    assert response.status_code == 200
    preloaded.refresh_from_db()
    current.refresh_from_db()
    assert preloaded.expires_at == current.expires_at > soon + timedelta(minutes=10)


def test_a_preloaded_task_never_shown_is_released_by_expiry_and_counts_nowhere(client):
    project = _project(prompts=2, overlap=1)
    first_user = _annotator(client, project)
    client.get(_url(project))
    preloaded = _held(first_user, "preloaded")
    # The annotator walks away: both locks run out.
    Assignment.objects.filter(annotator=first_user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    second_user = _annotator(client, project)
    html = client.get(_url(project)).content.decode()
    preloaded.refresh_from_db()
    assert preloaded.status == "expired"
    # Its slot went to the other annotator (overlap 1: it could not, were it still held).
    theirs = Assignment.objects.get(annotator=second_user, item=preloaded.item)
    assert str(theirs.token) in html
    assert QueueItem.objects.get(pk=preloaded.item_id).taken == 1
    # No judgement and no count for the annotator it was preloaded for.
    assert not Judgement.objects.filter(annotator=first_user).exists()
    client.force_login(first_user)
    mine = client.get(_url(project)).content.decode()
    assert '<span class="num">0</span> done in all' in mine
    assert not Assignment.objects.filter(annotator=first_user, status="submitted").exists()


def test_with_preloading_off_nothing_is_claimed_ahead(client, settings):
    settings.WORKSPACE_PRELOAD = False
    project = _project()
    user = _annotator(client, project)
    html = client.get(_url(project)).content.decode()
    assert "data-preload" not in html
    assert list(Assignment.objects.filter(annotator=user).values_list("status", flat=True)) == [
        "active"
    ]
