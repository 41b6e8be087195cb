"""Answers people can read, in a real browser: completions written in Markdown show lists and
code blocks, hostile HTML in them runs nothing and loads nothing (no dialog, no request off the
site, no CSP report), the M key shows the raw text; and the task's lock counts down, warns
near its end, and working on the task holds it longer."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from labeling.models import Assignment, Demonstration
from labeling.services.projects import membership_grant
from tests.e2e.test_csp_browser import RECORD_VIOLATIONS
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
HOSTILE = [
    "Steps:\n\n- first step\n- second step\n\n```html\n<script>alert('in code')</script>\n```",
    '<img src="https://tracker.example/pixel.png" onerror="alert(1)">\n\n'
    "![pixel](https://tracker.example/markdown.png)",
    "<script>alert(2)</script><iframe src='https://evil.example/frame'></iframe>"
    "<style>body { display: none }</style>",
    "[click me](javascript:alert(3)) <a href='https://evil.example/' onmouseover='alert(4)'>"
    "hover me</a> <svg onload='alert(5)'></svg> <link rel=prefetch href=https://evil.example/p>",
]


@pytest.fixture
def watched(browser, live_server):
    """A page that records dialogs, requests leaving the site and CSP reports."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.dialogs, page.outside, page.csp_console, page.extends = [], [], [], []

    def dialog(d):
        page.dialogs.append(d.message)
        d.dismiss()

    def request(r):
        if not r.url.startswith(live_server.url):
            page.outside.append(r.url)
        if r.url.endswith("/extend/"):
            page.extends.append(r.url)

    page.on("dialog", dialog)
    page.on("request", request)
    page.on(
        "console",
        lambda m: page.csp_console.append(m.text) if "Content Security Policy" in m.text else 0,
    )
    yield page
    context.close()


def _harm(page) -> dict:
    page.wait_for_timeout(300)  # dialogs, loads and CSP reports arrive asynchronously
    return {
        "dialogs": page.dialogs,
        "requests off the site": page.outside,
        "csp": page.evaluate("window.__csp || []") + page.csp_console,
        "loading elements": page.locator(
            "main img, main iframe, main svg, main object, main embed, main script, main style"
        ).count(),
    }


NO_HARM = {"dialogs": [], "requests off the site": [], "csp": [], "loading elements": 0}


def _login(page, base, project, *, role="annotator"):
    user = UserFactory(username=role)
    membership_grant(project=project, user=user, role=role)
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(role)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
    return user


def test_hostile_markdown_renders_readably_and_runs_nothing(watched, live_server, screenshot):
    project = ProjectFactory(task_kinds=["rank"], completions_per_prompt=4, name="Markdown")
    prompt = PromptFactory(project=project, instruction="List **two** steps:\n\n1. one\n2. two")
    for text in HOSTILE:
        CompletionFactory(prompt=prompt, text=text)
    page = watched
    _login(page, live_server.url, project)
    page.goto(f"{live_server.url}/p/{project.slug}/")
    expect(page.locator("#task[data-ready]")).to_be_visible()

    # Rendered: lists, bold and code blocks; HTML in a completion shows as the text written.
    expect(page.locator(".prompt-text .rich-rendered strong")).to_have_text("two")
    expect(page.locator(".prompt-text .rich-rendered ol li")).to_have_count(2)
    expect(page.locator(".completion-text .rich-rendered ul li")).to_have_text(
        ["first step", "second step"]
    )
    code = page.locator(".completion-text .rich-rendered pre code")
    expect(code).to_have_text("<script>alert('in code')</script>")
    page.get_by_text("hover me", exact=False).first.hover()
    page.locator(".rich-rendered a", has_text="click me").click()  # no href left: goes nowhere
    screenshot(page, "markdown-rendered")
    assert _harm(page) == NO_HARM
    expect(page.locator(".rich-rendered", has_text="<img src=")).to_be_visible()
    expect(page.locator(".rich-raw").first).to_be_hidden()

    # M shows the raw texts, remembered across pages; M again goes back.
    page.keyboard.press("m")
    expect(page.locator(".rich-rendered").first).to_be_hidden()
    raw = page.locator(".completion-text .rich-raw")
    expect(raw.first).to_be_visible()
    expect(page.locator(".rich-raw", has_text="```html")).to_be_visible()
    expect(page.locator("[data-text-view-toggle]")).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.locator("#task[data-ready]")).to_be_visible()
    expect(page.locator(".completion-text .rich-raw").first).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_contain_text("formatted (Markdown) or raw")
    page.keyboard.press("Escape")
    page.keyboard.press("m")
    expect(page.locator(".completion-text .rich-rendered ul li").first).to_be_visible()
    expect(page.locator(".rich-raw").first).to_be_hidden()
    assert _harm(page) == NO_HARM


def test_the_lock_counts_down_warns_and_working_extends_it(
    watched, live_server, settings, screenshot
):
    settings.ASSIGNMENT_LOCK_SECONDS = 15 * 60
    project = ProjectFactory(task_kinds=["rank"], completions_per_prompt=2, name="Lock")
    prompt = PromptFactory(project=project)
    CompletionFactory.create_batch(2, prompt=prompt)
    page = watched
    user = _login(page, live_server.url, project)
    page.goto(f"{live_server.url}/p/{project.slug}/")
    expect(page.locator("#task[data-ready]")).to_be_visible()
    lock = page.locator("[data-lock]")
    expect(lock).to_have_text(re.compile(r"^1[45] min left$"))
    warning = page.locator("[data-lock-warning]")
    expect(warning).to_be_hidden()
    expect(warning).to_have_attribute("role", "status")

    # Nearly run out: the warning shows; a key press holds the task another full lock.
    assignment = Assignment.objects.get(annotator=user, status=Assignment.Status.ACTIVE)
    near = timezone.now() + timedelta(seconds=90)
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=near)
    page.reload()
    expect(page.locator("#task[data-ready]")).to_be_visible()
    expect(lock).to_have_text("1 min left")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Less than 2 minutes left")
    screenshot(page, "lock-warning")
    page.keyboard.press("j")
    expect(lock).to_have_text(re.compile(r"^1[45] min left$"))
    expect(warning).to_be_hidden()
    assignment.refresh_from_db()
    assert assignment.expires_at > timezone.now() + timedelta(minutes=14)
    # Throttled: more keys within the minute ask no more.
    for key in ["j", "k", "j"]:
        page.keyboard.press(key)
    page.wait_for_timeout(300)
    assert len(page.extends) == 1
    assert _harm(page) == NO_HARM


def test_the_review_page_renders_an_annotators_markdown_safely(watched, live_server):
    project = ProjectFactory(task_kinds=["answer"], name="Review")
    prompt = PromptFactory(project=project, instruction="Say hi")
    author = UserFactory(username="author")
    Demonstration.objects.create(
        prompt=prompt,
        output=f"Hi!\n\n- a list item\n\n{HOSTILE[1]}\n\n{HOSTILE[2]}",
        origin="answered",
        author=author,
    )
    page = watched
    _login(page, live_server.url, project, role="reviewer")
    page.goto(f"{live_server.url}/p/{project.slug}/review/")
    expect(page.locator("[data-output] .rich-rendered li")).to_have_text("a list item")
    expect(page.locator("[data-output] .rich-rendered")).to_contain_text("<script>alert(2)")
    assert _harm(page) == NO_HARM
