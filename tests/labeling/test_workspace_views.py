"""The annotator's workspace page: page and htmx fragment, submissions, skips, access, escaping."""

import re

import pytest
from django.urls import reverse

from labeling.models import Assignment, Completion, Demonstration, Judgement
from labeling.services.projects import membership_grant
from labeling.services.queue import task_skip
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def _project(*, kinds, prompts=2, n=4, guidelines="Be **kind**."):
    project = ProjectFactory(task_kinds=kinds, completions_per_prompt=n, guidelines=guidelines)
    for _ in range(prompts):
        prompt = PromptFactory(project=project)
        for _ in range(n):
            CompletionFactory(prompt=prompt)
    return project


def _annotator(client, project):
    user = UserFactory()
    membership_grant(project=project, user=user, role="annotator")
    client.force_login(user)
    return user


def _url(project, name="labeling:workspace"):
    return reverse(name, kwargs={"slug": project.slug})


def _current(user):
    return Assignment.objects.get(annotator=user, status=Assignment.Status.ACTIVE)


def _rank_post(assignment, ranks, **extra):
    data = {"token": str(assignment.token), "kind": "rank", "time_spent_ms": "4200", **extra}
    data["completion"] = [str(pk) for pk in assignment.completion_ids]
    for pk, rank in zip(assignment.completion_ids, ranks, strict=True):
        data[f"rank_{pk}"] = str(rank)
    return data


def test_the_page_shows_the_task_guidelines_progress_and_shortcuts(client):
    project = _project(kinds=["rank"])
    _annotator(client, project)
    response = client.get(_url(project))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and 'id="task-area"' in html
    shown = html.split("<template data-preload")[0]  # the next task, held off-screen, after it
    assert shown.count('name="completion"') == 4
    assert "<strong>kind</strong>" in html  # guidelines rendered from markdown
    assert "done today" in html and "left in the queue" in html
    assert 'id="shortcut-help"' in html and "hint-bar" in html
    assert "js/workspace.js" in html and "css/workspace.css" in html


def test_an_htmx_request_gets_only_the_task_fragment(client):
    project = _project(kinds=["rank"])
    _annotator(client, project)
    html = client.get(_url(project), **HTMX).content.decode()
    assert 'id="task"' in html and 'name="completion"' in html
    assert "<html" not in html and "shortcut-help" not in html and "Guidelines" not in html


def test_a_reload_shows_the_same_task(client):
    project = _project(kinds=["rank"])
    user = _annotator(client, project)
    client.get(_url(project))
    token = str(_current(user).token)
    assert token in client.get(_url(project)).content.decode()


def test_submitting_over_htmx_records_the_ranking_and_returns_the_next_task(client):
    project = _project(kinds=["rank"])
    user = _annotator(client, project)
    client.get(_url(project))
    first = _current(user)
    response = client.post(_url(project), _rank_post(first, [2, 1, 1, 3]), **HTMX)
    assert response.status_code == 200
    judgement = Judgement.objects.get(assignment=first)
    ids = first.completion_ids
    assert judgement.ranking == [[ids[1], ids[2]], [ids[0]], [ids[3]]]
    assert judgement.time_spent_ms == 4200
    second = _current(user)
    assert second.pk != first.pk
    html = response.content.decode()
    assert str(second.token) in html and "<html" not in html
    assert '<span class="num">1</span> done today' in html


def test_a_plain_form_post_redirects_back_to_the_page(client):
    project = _project(kinds=["rank"])
    user = _annotator(client, project)
    client.get(_url(project))
    first = _current(user)
    data = _rank_post(first, [1, 2, 3, 4])
    del data["time_spent_ms"]  # no JavaScript: the server measures the assignment's age
    response = client.post(_url(project), data)
    assert response.status_code == 302 and response.url == _url(project)
    assert Judgement.objects.get(assignment=first).time_spent_ms is not None


def test_submitting_the_same_task_twice_records_one_judgement(client):
    project = _project(kinds=["rank"])
    user = _annotator(client, project)
    client.get(_url(project))
    first = _current(user)
    client.post(_url(project), _rank_post(first, [1, 2, 3, 4]), **HTMX)
    response = client.post(_url(project), _rank_post(first, [1, 2, 3, 4]), **HTMX)
    assert response.status_code == 200
    assert Judgement.objects.filter(annotator=user).count() == 1


def test_an_incomplete_ranking_is_refused_and_keeps_the_given_ranks(client):
    project = _project(kinds=["rank"])
    user = _annotator(client, project)
    client.get(_url(project))
    first = _current(user)
    data = _rank_post(first, [3, 1, 2, 4])
    data[f"rank_{first.completion_ids[3]}"] = ""
    html = client.post(_url(project), data, **HTMX).content.decode()
    assert "Give every answer a rank" in html and "#4" in html
    assert f'name="rank_{first.completion_ids[0]}"' in html
    assert 'value="3"' in html
    assert not Judgement.objects.exists()


def test_cannot_judge_needs_a_reason(client):
    project = _project(kinds=["rank"])
    user = _annotator(client, project)
    client.get(_url(project))
    first = _current(user)
    data = {"token": str(first.token), "kind": "rank", "outcome": "cannot_judge", "reason": ""}
    html = client.post(_url(project), data, **HTMX).content.decode()
    assert "Say briefly why." in html and not Judgement.objects.exists()
    data["reason"] = "Needs a medical expert"
    client.post(_url(project), data, **HTMX)
    judgement = Judgement.objects.get(assignment=first)
    assert (judgement.outcome, judgement.reason) == ("cannot_judge", "Needs a medical expert")


def test_a_refused_submission_keeps_the_typed_text_on_screen(client):
    project = _project(kinds=["edit"], n=2)
    user = _annotator(client, project)
    client.get(_url(project))
    assignment = _current(user)
    original = assignment.completion_ids and CompletionFactory._meta.model.objects.get(
        pk=assignment.completion_ids[0]
    )
    # Unchanged text: the service refuses it; what was typed comes back in the textarea.
    data = {"token": str(assignment.token), "kind": "edit", "output": original.text}
    response = client.post(_url(project), data)
    assert response.status_code == 422
    html = response.content.decode()
    assert "The text is unchanged" in html and original.text in html


def _answer_task_skipped_in_another_tab(client):
    project = _project(kinds=["answer"], n=2)
    user = _annotator(client, project)
    client.get(_url(project))
    assignment = _current(user)
    task_skip(token=assignment.token, annotator=user, reason="skipped in another tab")
    return project, user, assignment


def test_text_typed_for_a_task_that_is_gone_stays_on_screen(client):
    project, user, assignment = _answer_task_skipped_in_another_tab(client)
    typed = "My careful answer, with <b>markup</b> & more."
    data = {"token": str(assignment.token), "kind": "answer", "output": typed}
    html = client.post(_url(project), data, **HTMX).content.decode()
    assert "You skipped this task" in html
    assert "My careful answer, with &lt;b&gt;markup&lt;/b&gt; &amp; more." in html
    assert not Demonstration.objects.filter(author=user).exists()


def test_a_write_task_refused_for_a_duplicate_instruction_keeps_both_fields(client):
    project = _project(kinds=["write"], prompts=0)
    PromptFactory(project=project, instruction="Name three rivers.")
    user = _annotator(client, project)
    client.get(_url(project))
    assignment = _current(user)
    data = {
        "token": str(assignment.token),
        "kind": "write",
        "instruction": "Name three rivers.",
        "output": "The Nile, the Amazon & the Han <River>.",
    }
    response = client.post(_url(project), data, **HTMX)
    html = response.content.decode()
    assert "already in the project" in html
    assert "Name three rivers." in html
    assert "The Nile, the Amazon &amp; the Han &lt;River&gt;." in html


def test_write_answer_and_edit_submissions_make_demonstrations(client):
    project = _project(kinds=["write"], prompts=0)
    user = _annotator(client, project)
    client.get(_url(project))
    assignment = _current(user)
    data = {
        "token": str(assignment.token),
        "kind": "write",
        "instruction": "Say hello in Korean.",
        "input": "",
        "category": "open_qa",
        "output": "안녕하세요.",
        "time_spent_ms": "9000",
    }
    client.post(_url(project), data, **HTMX)
    demonstration = Demonstration.objects.get(author=user)
    assert demonstration.output == "안녕하세요."
    assert demonstration.prompt.instruction == "Say hello in Korean."


def test_compare_records_the_choice_against_the_recorded_sides(client):
    project = _project(kinds=["compare"], n=2)
    user = _annotator(client, project)
    html = client.get(_url(project)).content.decode()
    assignment = _current(user)
    left = CompletionFactory._meta.model.objects.get(pk=assignment.left_completion_id)
    assert html.index(left.text) < html.index('value="b"')
    data = {"token": str(assignment.token), "kind": "compare", "choice": "b", "time_spent_ms": "1"}
    client.post(_url(project), data, **HTMX)
    judgement = Judgement.objects.get(assignment=assignment)
    assert (judgement.choice, judgement.left_completion_id) == ("b", left.pk)


def test_rate_records_thumbs_scores_and_flags(client):
    project = _project(kinds=["rate"], n=2)
    user = _annotator(client, project)
    client.get(_url(project))
    assignment = _current(user)
    first, second = assignment.completion_ids
    data = {
        "token": str(assignment.token),
        "kind": "rate",
        "completion": [str(first), str(second)],
        f"thumb_{first}": "up",
        f"helpful_{first}": "5",
        f"thumb_{second}": "down",
        f"flags_{second}": ["factually_wrong", "off_topic"],
        "time_spent_ms": "10",
    }
    client.post(_url(project), data, **HTMX)
    ratings = Judgement.objects.get(assignment=assignment).ratings
    assert ratings[str(first)] == {"thumb": "up", "helpful": 5, "flags": []}
    assert ratings[str(second)] == {"thumb": "down", "flags": ["factually_wrong", "off_topic"]}


def test_a_missing_thumb_is_refused_with_the_other_choices_kept(client):
    project = _project(kinds=["rate"], n=2)
    user = _annotator(client, project)
    client.get(_url(project))
    assignment = _current(user)
    first, second = assignment.completion_ids
    data = {
        "token": str(assignment.token),
        "kind": "rate",
        "completion": [str(first), str(second)],
        f"thumb_{first}": "down",
        f"honest_{first}": "2",
    }
    html = client.post(_url(project), data, **HTMX).content.decode()
    assert "Give every answer a thumb up or down." in html
    assert f'name="thumb_{first}" value="down" data-thumb="down" checked' in html
    assert f'name="honest_{first}" value="2" checked' in html


def test_skip_needs_a_reason_and_then_gives_the_next_task(client):
    project = _project(kinds=["rank"])
    user = _annotator(client, project)
    client.get(_url(project))
    first = _current(user)
    html = client.post(
        _url(project, "labeling:workspace_skip"), {"token": str(first.token)}, **HTMX
    ).content.decode()
    assert "Say briefly why you skip this task." in html
    response = client.post(
        _url(project, "labeling:workspace_skip"),
        {"token": str(first.token), "reason": "Not my language"},
        **HTMX,
    )
    first.refresh_from_db()
    assert (first.status, first.skip_reason) == ("skipped", "Not my language")
    assert str(_current(user).token) in response.content.decode()


def test_no_task_left_says_so(client):
    project = _project(kinds=["rank"], prompts=0)
    _annotator(client, project)
    html = client.get(_url(project)).content.decode()
    assert "No task for you right now" in html


def test_a_non_member_gets_404_and_a_superuser_gets_in(client):
    project = _project(kinds=["rank"])
    client.force_login(UserFactory())
    assert client.get(_url(project)).status_code == 404
    assert client.post(_url(project), {}).status_code == 404
    assert client.post(_url(project, "labeling:workspace_skip"), {}).status_code == 404
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get(_url(project)).status_code == 200


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    project = _project(kinds=["rank"])
    response = client.get(_url(project))
    assert response.status_code == 302 and reverse("login") in response.url
    # Over htmx (a session that ran out mid-task) the whole page goes to the login form.
    response = client.post(_url(project, "labeling:workspace_skip"), {}, **HTMX)
    assert response["HX-Redirect"] == f"{reverse('login')}?next={_url(project)}"


def test_model_output_is_escaped(client):
    project = _project(kinds=["rank"], prompts=0, guidelines=f"Guide {XSS}")
    prompt = PromptFactory(project=project, instruction=f"Repeat {XSS}")
    for _ in range(4):
        CompletionFactory(prompt=prompt, text=XSS)
    _annotator(client, project)
    html = client.get(_url(project)).content.decode()
    assert "<script>window.pwned" not in html and "<img src=x" not in html
    # No tag carries the handler (the rendered Markdown shows `onerror="..."` as text).
    assert not re.search(r"<[a-z][^<>]*\sonerror\s*=", html)
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert html.count("&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt;") >= 4


def test_the_server_down_message_shows_while_writing_tasks_are_served(client, monkeypatch):
    project = _project(kinds=["rank", "write"], prompts=0)
    _annotator(client, project)
    monkeypatch.setattr("labeling.views.workspace.model_servers_available", lambda: False)
    html = client.get(_url(project)).content.decode()
    assert "The model server is not answering; here are writing tasks meanwhile." in html
    assert 'name="instruction"' in html


def test_the_page_speaks_korean(client):
    project = _project(kinds=["rank"])
    _annotator(client, project)
    html = client.get(_url(project), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "가이드라인" in html and "제출" in html


def test_refusals_speak_the_language_of_the_request_that_shows_them(client):
    project, _, assignment = _answer_task_skipped_in_another_tab(client)
    data = {"token": str(assignment.token), "kind": "answer", "output": "My answer"}
    korean = client.post(_url(project), data, HTTP_ACCEPT_LANGUAGE="ko", **HTMX)
    assert "건너뛴 작업이라 더 이상 제출할 수 없습니다." in korean.content.decode()
    assert "You skipped this task" not in korean.content.decode()
    english = client.post(_url(project), data, HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert "You skipped this task" in english.content.decode()


def test_a_refusal_by_the_service_is_shown_in_korean(client):
    project = _project(kinds=["edit"], n=2)
    user = _annotator(client, project)
    client.get(_url(project))
    assignment = _current(user)
    original = Completion.objects.get(pk=assignment.completion_ids[0])
    data = {"token": str(assignment.token), "kind": "edit", "output": original.text}
    html = client.post(_url(project), data, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "내용이 바뀌지 않았습니다. 응답을 고치거나 작업을 건너뛰세요." in html


def test_home_links_to_the_workspace(client):
    project = _project(kinds=["rank"])
    _annotator(client, project)
    assert _url(project) in client.get(reverse("labeling:home")).content.decode()
