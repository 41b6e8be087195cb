"""Preloading in a real browser: the next task is already in the page, the submit key shows
it at once while the submission goes out, and the answer to the submission is reconciled
(refused: back to what was entered), with the back button and with two tabs.

The network is slowed through Chromium's DevTools protocol, so "at once" is told apart from
"after the server answered": the checks right after the key press run while the submission
is still on its way.
"""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from labeling.models import Assignment, Completion, Demonstration, Judgement, QueueItem
from labeling.services.projects import membership_grant
from labeling.services.queue import assignments_expire, task_next
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LATENCY_MS = 700  # each request; far more than showing a preloaded task takes


def _project(kinds, *, prompts=3, n=4, overlap=1):
    project = ProjectFactory(
        task_kinds=kinds, completions_per_prompt=n, overlap=overlap, name="Capitals"
    )
    for number in range(prompts):
        prompt = PromptFactory(project=project, instruction=f"What is the capital? ({number})")
        for index in range(n):
            CompletionFactory(prompt=prompt, text=f"Answer {index} to prompt {number}.")
    return project


def _open(page, live_server, project, user):
    page.context.add_cookies([_session_cookie(live_server, user)])
    page.goto(f"{live_server.url}/p/{project.slug}/")
    expect(page.locator("#task[data-ready]")).to_be_visible()


def _session_cookie(live_server, user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}


def _annotator(project, name="ann"):
    user = UserFactory(username=name)
    membership_grant(project=project, user=user, role="annotator")
    return user


def _slow(page, latency_ms=LATENCY_MS):
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    # The conditions apply once Chromium's network service has them: wait for a slow request.
    took = page.evaluate(
        """async () => {
            const started = performance.now();
            await fetch("/static/js/workspace.js", { cache: "no-store" });
            return performance.now() - started;
        }"""
    )
    assert took >= latency_ms * 0.9, took


def _token(page) -> str:
    return page.locator("#task-form input[name=token]").get_attribute("value")


def _held(user, status) -> Assignment:
    return Assignment.objects.get(annotator=user, status=status)


def _settled(page):
    """The answer to the submission is in and reconciled."""
    expect(page.locator("#task-area:not([data-pending])")).to_be_attached(timeout=15_000)


def test_the_submit_key_shows_the_preloaded_task_at_once_and_the_submission_is_stored(
    page, live_server
):
    project = _project(["rank"])
    user = _annotator(project)
    _open(page, live_server, project, user)
    first = _held(user, "active")
    preloaded = _held(user, "preloaded")
    _slow(page)
    for key in ["2", "1", "3", "4"]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    # At once: the preloaded task is shown, its lock its own, the keys work in it, while the
    # submission is still on its way (nothing stored yet).
    assert _token(page) == str(preloaded.token)
    expect(page.locator("#task[data-ready]")).to_be_attached(timeout=100)
    lock = page.locator("[data-lock]")
    expect(lock).to_have_attribute("data-token", str(preloaded.token))
    expect(lock).to_have_text("14 min left")  # a full lock from now, as the server sets it
    assert page.locator("#task-area[data-pending]").count() == 1  # no answer yet
    page.keyboard.press("1")
    expect(page.locator(f"input[name=rank_{preloaded.completion_ids[0]}]")).to_have_value("1")
    _settled(page)
    ids = first.completion_ids
    judgement = Judgement.objects.get(assignment=first)
    assert judgement.ranking == [[ids[1]], [ids[0]], [ids[2]], [ids[3]]]
    expect(page.locator(".ws-progress")).to_contain_text("1 done today")
    # The task shown is now the active one, and the next one is preloaded behind it; what
    # the annotator did in the meantime is still there.
    assert _held(user, "active").pk == preloaded.pk
    assert _held(user, "preloaded").pk not in (first.pk, preloaded.pk)
    expect(page.locator(f"input[name=rank_{preloaded.completion_ids[0]}]")).to_have_value("1")


def test_a_refused_submission_brings_back_what_was_entered(page, live_server):
    """The lock ran out in the database between showing and submitting, and another
    annotator took the slot: the refusal comes back with the text typed, as without
    preloading."""
    project = _project(["answer"], prompts=2, n=2)
    user = _annotator(project)
    _open(page, live_server, project, user)
    first = _held(user, "active")
    preloaded = _held(user, "preloaded")
    page.keyboard.type("Paris, on the Seine.")
    # The lock runs out, the slot goes back to the queue, and someone else takes it.
    Assignment.objects.filter(pk=first.pk).update(expires_at=timezone.now())
    assignments_expire(project=project, now=timezone.now())
    other = task_next(annotator=_annotator(project, "bo"), project=project)
    assert other.item_id == first.item_id
    _slow(page)
    page.keyboard.press("Control+Enter")
    assert _token(page) == str(preloaded.token)  # shown at once, before the answer
    _settled(page)
    expect(page.locator(".errors:not([data-request-error])")).to_contain_text(
        "another annotator has taken it"
    )
    expect(page.locator(".unsaved textarea")).to_have_value("Paris, on the Seine.")
    assert _token(page) == str(preloaded.token)  # the next task, the typed text beside it
    assert not Demonstration.objects.filter(author=user).exists()


def test_a_submission_refused_for_its_content_brings_that_task_back(page, live_server):
    project = _project(["edit"], prompts=3, n=2)
    user = _annotator(project)
    _open(page, live_server, project, user)
    first = _held(user, "active")
    preloaded = _held(user, "preloaded")
    original = Completion.objects.get(pk=first.completion_ids[0]).text
    _slow(page)
    page.keyboard.press("Control+Enter")  # the text unchanged: the server refuses it
    assert _token(page) == str(preloaded.token)
    _settled(page)
    assert _token(page) == str(first.token)
    expect(page.locator(".errors:not([data-request-error])")).to_contain_text(
        "The text is unchanged"
    )
    expect(page.locator("#output")).to_have_value(original)
    # Fixed, it goes, and the task preloaded all along comes at once.
    page.locator("#output").press("Control+End")
    page.keyboard.type(" (Checked.)")
    page.keyboard.press("Control+Enter")
    assert _token(page) == str(preloaded.token)
    _settled(page)
    assert Demonstration.objects.get(author=user).output == original + " (Checked.)"


def test_back_shows_the_current_task_never_one_already_done(page, live_server):
    project = _project(["compare"], prompts=5, n=2)
    user = _annotator(project)
    _open(page, live_server, project, user)
    done = []
    for _ in range(2):
        done.append(_token(page))
        page.keyboard.press("a")
        page.keyboard.press("Enter")
        _settled(page)
    current = _held(user, "active")
    assert _token(page) == str(current.token) and _token(page) not in done
    page.get_by_role("link", name="My work").click()
    expect(page.locator("#task")).to_have_count(0)
    page.go_back()
    expect(page.locator("#task[data-ready]")).to_be_visible()
    assert _token(page) == str(current.token)
    # And the task after it is there too: the submit key shows it at once.
    preloaded = _held(user, "preloaded")
    _slow(page)
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    assert _token(page) == str(preloaded.token)
    _settled(page)
    assert Judgement.objects.get(assignment=current).choice == "b"
    assert Judgement.objects.filter(annotator=user).count() == 3


def test_two_tabs_show_the_same_next_task_and_record_one_judgement(browser, live_server):
    project = _project(["compare"], prompts=4, n=2)
    user = _annotator(project)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        first_tab, second_tab = context.new_page(), context.new_page()
        for tab in (first_tab, second_tab):
            _open(tab, live_server, project, user)
        first = _held(user, "active")
        preloaded = _held(user, "preloaded")
        assert _token(first_tab) == _token(second_tab) == str(first.token)
        first_tab.bring_to_front()
        first_tab.keyboard.press("a")
        first_tab.keyboard.press("Enter")
        assert _token(first_tab) == str(preloaded.token)
        _settled(first_tab)
        # The second tab still shows the first task; submitted there too, it shows the same
        # next task (the same assignment), and the first task is recorded once.
        second_tab.bring_to_front()
        second_tab.keyboard.press("b")
        second_tab.keyboard.press("Enter")
        assert _token(second_tab) == str(preloaded.token)
        _settled(second_tab)
        assert Judgement.objects.get(assignment=first).choice == "a"
        assert _token(second_tab) == _token(first_tab) == str(_held(user, "active").token)
        statuses = sorted(
            Assignment.objects.filter(annotator=user).values_list("status", flat=True)
        )
        assert statuses == ["active", "preloaded", "submitted"]
        # Three slots held in all (overlap 1): none taken twice, none lost.
        assert sum(QueueItem.objects.filter(project=project).values_list("taken", flat=True)) == 3
    finally:
        context.close()


def test_without_preloading_the_submit_key_waits_for_the_server(page, live_server, settings):
    """Today's behaviour, kept when WORKSPACE_PRELOAD is off: the next task comes with the
    answer to the submission."""
    settings.WORKSPACE_PRELOAD = False
    project = _project(["compare"], prompts=3, n=2)
    user = _annotator(project)
    _open(page, live_server, project, user)
    first = _held(user, "active")
    assert not Assignment.objects.filter(annotator=user, status="preloaded").exists()
    _slow(page)
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    assert _token(page) == str(first.token)  # still waiting
    expect(page.locator("#task-form input[name=token]")).not_to_have_attribute(
        "value", str(first.token), timeout=15_000
    )
    assert Judgement.objects.get(assignment=first).choice == "a"


def test_a_double_click_on_submit_sends_nothing_of_the_task_just_shown(page, live_server):
    project = _project(["rank"])
    user = _annotator(project)
    _open(page, live_server, project, user)
    first, preloaded = _held(user, "active"), _held(user, "preloaded")
    _slow(page)
    for key in ["1", "2", "3", "4"]:
        page.keyboard.press(key)
    page.locator("button[data-submit]").dblclick()  # the second click lands on the next task
    assert _token(page) == str(preloaded.token)
    _settled(page)
    page.wait_for_timeout(2 * LATENCY_MS)  # a second submission would have been answered
    expect(page.locator(".errors:not([data-request-error])")).to_have_count(0)
    assert list(Judgement.objects.filter(annotator=user).values_list("assignment", flat=True)) == [
        first.pk
    ]
    assert _token(page) == str(_held(user, "active").token) == str(preloaded.token)


def test_a_task_worked_on_and_submitted_before_the_last_answer_came_is_sent_after_it(
    page, live_server
):
    """A fast annotator ranks the task that appeared and presses the key again while the
    previous submission is still out: that submission waits for the answer, then goes."""
    project = _project(["rank"])
    user = _annotator(project)
    _open(page, live_server, project, user)
    first, preloaded = _held(user, "active"), _held(user, "preloaded")
    _slow(page)
    for key in ["1", "2", "3", "4"]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    assert _token(page) == str(preloaded.token)
    for key in ["4", "3", "2", "1"]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")  # the first submission has no answer yet
    assert page.locator("#task-area[data-pending]").count() == 1
    expect(page.locator(".ws-progress")).to_contain_text("2 done today", timeout=15_000)
    _settled(page)
    ids = preloaded.completion_ids
    assert Judgement.objects.get(assignment=preloaded).ranking == [
        [ids[3]],
        [ids[2]],
        [ids[1]],
        [ids[0]],
    ]
    assert Judgement.objects.filter(assignment=first).exists()
    assert _token(page) not in (str(first.token), str(preloaded.token))
