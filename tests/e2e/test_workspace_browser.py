"""The annotator's workspace in a real browser: keyboard-only flows for every task kind,
drag and drop, double clicks, escaping of model output, and the Korean interface."""

import re

import pytest
from playwright.sync_api import expect

from labeling.models import Assignment, Completion, Demonstration, Judgement
from labeling.services.projects import membership_grant
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
GUIDELINES = "# Guide\n\n- Put the **best** answer first.\n- Ties are allowed."
TEXTS = [
    "Paris is the capital of France.",
    "The capital of France is Paris, on the Seine.",
    "It is Lyon.",
    "France's capital city is Paris.",
]


def _project(kinds, *, prompts=2, n=4, texts=TEXTS):
    project = ProjectFactory(
        task_kinds=kinds, completions_per_prompt=n, guidelines=GUIDELINES, name="Capitals"
    )
    for number in range(prompts):
        prompt = PromptFactory(
            project=project,
            instruction=f"What is the capital of France? ({number + 1})",
            input="Answer in one sentence.",
        )
        for index in range(n):
            CompletionFactory(prompt=prompt, text=texts[index % len(texts)])
    return project


def _login(page, live_server, project):
    user = UserFactory(username="ann")
    membership_grant(project=project, user=user, role="annotator")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
    page.get_by_role("link", name="Capitals").first.click()
    expect(page.locator("#task[data-ready]")).to_be_visible()
    return user


def _token(page) -> str:
    return page.locator("#task-form input[name=token]").get_attribute("value")


def _active(user) -> Assignment:
    return Assignment.objects.get(annotator=user, status=Assignment.Status.ACTIVE)


def _wait_for_next_task(page, old_token):
    expect(page.locator("#task-form input[name=token]")).not_to_have_attribute("value", old_token)
    expect(page.locator("#task[data-ready]")).to_be_visible()
    # Shown at once from the preloaded task: the submission is stored once it is answered.
    expect(page.locator("#task-area:not([data-pending])")).to_be_attached()


def _focused_attr(page, name):
    return page.evaluate(f"document.activeElement && document.activeElement.getAttribute('{name}')")


def test_rank_with_the_keyboard_only(page, live_server, screenshot):
    project = _project(["rank"])
    user = _login(page, live_server, project)
    assignment = _active(user)
    ids = assignment.completion_ids
    expect(page.locator(".rank-item")).to_have_count(4)
    expect(page.locator(".hint-bar")).to_contain_text("rank (same = tie)")
    # Focus starts on the first answer; each digit ranks it and moves on.
    assert _focused_attr(page, "data-completion") == str(ids[0])
    for key in ["2", "1", "1", "3"]:
        page.keyboard.press(key)
    expect(page.locator("[data-tie-mark]:visible")).to_have_count(2)
    page.keyboard.press("k")  # back up and change the third answer's rank
    assert _focused_attr(page, "data-completion") == str(ids[2])
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("4")
    expect(page.locator("[data-tie-mark]:visible")).to_have_count(0)
    screenshot(page, "rank")
    token = _token(page)
    page.keyboard.press("Enter")
    _wait_for_next_task(page, token)
    judgement = Judgement.objects.get(assignment=assignment)
    assert judgement.ranking == [[ids[1]], [ids[0]], [ids[3]], [ids[2]]]
    assert judgement.time_spent_ms > 0
    expect(page.locator(".ws-progress")).to_contain_text("1 done today")
    # The next task arrived without a page load, and the focus is ready for it.
    assert _focused_attr(page, "data-completion") == str(_active(user).completion_ids[0])


def test_none_acceptable_asks_for_a_reason_and_enter_submits_it(page, live_server):
    project = _project(["rank"])
    user = _login(page, live_server, project)
    assignment = _active(user)
    page.keyboard.press("n")
    reason = page.locator("[data-reason]")
    expect(reason).to_be_visible()
    expect(reason).to_be_focused()
    reason.type("All of them miss the question")
    token = _token(page)
    page.keyboard.press("Enter")
    _wait_for_next_task(page, token)
    judgement = Judgement.objects.get(assignment=assignment)
    assert (judgement.outcome, judgement.reason) == (
        "none_acceptable",
        "All of them miss the question",
    )


def test_drag_and_drop_puts_the_answers_in_order(page, live_server):
    project = _project(["rank"])
    user = _login(page, live_server, project)
    assignment = _active(user)
    ids = assignment.completion_ids
    last = page.locator(f'[data-completion="{ids[3]}"]')
    first = page.locator(f'[data-completion="{ids[0]}"]')
    last.locator("[data-drag-handle]").drag_to(first, target_position={"x": 40, "y": 5})
    expect(page.locator(f"input[name=rank_{ids[3]}]")).to_have_value("1")
    expect(page.locator(f"input[name=rank_{ids[0]}]")).to_have_value("2")
    page.locator("button[data-submit]").click()
    expect(page.locator(".ws-progress")).to_contain_text("1 done today")
    assert Judgement.objects.get(assignment=assignment).ranking == [
        [ids[3]],
        [ids[0]],
        [ids[1]],
        [ids[2]],
    ]


def _drag(page, card_id, onto_id, *, at):
    """Drag an answer by its handle to the top edge ("top") or the middle ("middle") of another."""
    target = page.locator(f'[data-completion="{onto_id}"]')
    height = target.bounding_box()["height"]
    y = 4 if at == "top" else height / 2
    handle = page.locator(f'[data-completion="{card_id}"] [data-drag-handle]')
    handle.drag_to(target, target_position={"x": 40, "y": y})


def _ranks(page, ids):
    return [page.locator(f"input[name=rank_{pk}]").input_value() for pk in ids]


def test_dragging_an_answer_keeps_the_ties_set_with_the_keyboard(page, live_server):
    project = _project(["rank"])
    user = _login(page, live_server, project)
    assignment = _active(user)
    a, b, c, d = assignment.completion_ids
    for key in ["1", "1", "2", "3"]:  # a and b tie for the best
        page.keyboard.press(key)
    expect(page.locator("[data-tie-mark]:visible")).to_have_count(2)
    # Dropped above the tie: a rank of its own; the tie stays, ranks stay dense.
    _drag(page, d, a, at="top")
    assert _ranks(page, [a, b, c, d]) == ["2", "2", "3", "1"]
    expect(page.locator("[data-tie-mark]:visible")).to_have_count(2)
    # Dropped onto a tied answer: it joins that tie; its old rank closes up.
    _drag(page, c, b, at="middle")
    assert _ranks(page, [a, b, c, d]) == ["2", "2", "2", "1"]
    expect(page.locator("[data-tie-mark]:visible")).to_have_count(3)
    order = page.locator("[data-rank-list] [data-completion]")
    assert order.evaluate_all("cards => cards.map(c => Number(c.dataset.completion))") == [
        d,
        a,
        b,
        c,
    ]
    token = _token(page)
    page.locator("button[data-submit]").click()
    _wait_for_next_task(page, token)
    ranking = Judgement.objects.get(assignment=assignment).ranking
    assert [sorted(group) for group in ranking] == [[d], sorted([a, b, c])]


def test_a_double_click_on_submit_records_one_judgement_and_skips_no_task(page, live_server):
    project = _project(["rank"], prompts=3)
    user = _login(page, live_server, project)
    for key in ["1", "2", "3", "4"]:
        page.keyboard.press(key)
    page.locator("button[data-submit]").dblclick()
    expect(page.locator(".ws-progress")).to_contain_text("1 done today")
    page.wait_for_load_state("networkidle")
    assert Judgement.objects.filter(annotator=user).count() == 1
    shown = Assignment.objects.filter(annotator=user).exclude(status="preloaded")
    assert shown.count() == 2  # (the task after the next one is held off-screen)


def test_compare_with_the_keyboard(page, live_server, screenshot):
    project = _project(["compare"], n=2)
    user = _login(page, live_server, project)
    assignment = _active(user)
    left = Completion.objects.get(pk=assignment.left_completion_id)
    expect(page.locator('[data-side="a"] .completion-text .rich-rendered')).to_have_text(left.text)
    page.keyboard.press("b")
    expect(page.locator("input[name=choice][value=b]")).to_be_checked()
    screenshot(page, "compare")
    token = _token(page)
    page.keyboard.press("Enter")
    _wait_for_next_task(page, token)
    judgement = Judgement.objects.get(assignment=assignment)
    assert (judgement.choice, judgement.left_completion_id) == ("b", left.pk)


def test_rate_with_the_keyboard(page, live_server, screenshot):
    project = _project(["rate"], n=2)
    user = _login(page, live_server, project)
    assignment = _active(user)
    first, second = assignment.completion_ids
    # First answer: thumb up, helpful 4, honest 5, harmless 5; the focus then moves on.
    for key in ["u", "4", "5", "5"]:
        page.keyboard.press(key)
    assert _focused_attr(page, "data-completion") == str(second)
    page.keyboard.press("d")
    page.keyboard.press("2")
    page.get_by_label("Factually wrong").nth(1).check()
    screenshot(page, "rate")
    token = _token(page)
    page.keyboard.press("Enter")
    _wait_for_next_task(page, token)
    ratings = Judgement.objects.get(assignment=assignment).ratings
    assert ratings[str(first)] == {
        "thumb": "up",
        "helpful": 4,
        "honest": 5,
        "harmless": 5,
        "flags": [],
    }
    assert ratings[str(second)] == {"thumb": "down", "helpful": 2, "flags": ["factually_wrong"]}


def test_write_with_the_keyboard(page, live_server, screenshot):
    project = _project(["write"], prompts=0)
    user = _login(page, live_server, project)
    expect(page.locator("#instruction")).to_be_focused()
    page.keyboard.type("Name two rivers in Korea.")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("open_qa")
    page.keyboard.press("Tab")
    page.keyboard.type("The Han River and the Nakdong River.")
    screenshot(page, "write")
    token = _token(page)
    page.keyboard.press("Control+Enter")
    _wait_for_next_task(page, token)
    demonstration = Demonstration.objects.get(author=user)
    assert demonstration.prompt.instruction == "Name two rivers in Korea."
    assert (demonstration.prompt.category, demonstration.output) == (
        "open_qa",
        "The Han River and the Nakdong River.",
    )


def test_answer_and_edit_with_the_keyboard(page, live_server, screenshot):
    project = _project(["answer", "edit"], prompts=1, n=2)
    user = _login(page, live_server, project)
    kinds_done = []
    for done in (1, 2):
        kind = page.locator("#task").get_attribute("data-kind")
        output = page.locator("#output")
        expect(output).to_be_focused()
        if kind == "edit":
            expect(output).to_have_value(re.compile(r"Paris|Lyon"))
            page.keyboard.press("Control+End")
            page.keyboard.type(" (Checked.)")
        else:
            page.keyboard.type("Paris.")
        screenshot(page, kind)
        page.keyboard.press("Control+Enter")
        expect(page.locator(".ws-progress")).to_contain_text(f"{done} done today")
        kinds_done.append(kind)
    assert sorted(kinds_done) == ["answer", "edit"]
    origins = dict(Demonstration.objects.filter(author=user).values_list("origin", "output"))
    assert origins["answered"] == "Paris."
    assert origins["edited"].endswith(" (Checked.)")


def test_skip_asks_for_a_reason(page, live_server):
    project = _project(["rank"])
    user = _login(page, live_server, project)
    assignment = _active(user)
    page.keyboard.press("s")
    reason = page.locator("[data-skip-reason]")
    expect(reason).to_be_focused()
    reason.type("Not my language")
    token = _token(page)
    page.keyboard.press("Enter")
    _wait_for_next_task(page, token)
    assignment.refresh_from_db()
    assert (assignment.status, assignment.skip_reason) == ("skipped", "Not my language")


def test_question_mark_opens_the_shortcut_help(page, live_server, screenshot):
    project = _project(["rank"])
    _login(page, live_server, project)
    help_dialog = page.locator("#shortcut-help")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Both bad")
    screenshot(page, "help")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()


def test_a_script_in_a_completion_shows_as_text_and_never_runs(page, live_server):
    payloads = [
        '<img src=x onerror="window.__xss = 1">',
        "<script>window.__xss = 2</script>",
        '<svg onload="window.__xss = 3"></svg>',
        "**bold** [link](javascript:window.__xss=4)",
    ]
    project = _project(["rank"], prompts=1, texts=payloads)
    _login(page, live_server, project)
    for payload in payloads:
        expect(page.locator(".completion-text", has_text=payload)).to_have_count(1)
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#task img, #task script, #task svg").count() == 0


def test_the_interface_speaks_korean(page, live_server, screenshot):
    project = _project(["rank"])
    _login(page, live_server, project)
    page.get_by_label("Language").select_option("ko")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("#task[data-ready]")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("제출"))).to_be_visible()
    expect(page.locator(".ws-guidelines summary")).to_have_text("가이드라인")
    expect(page.locator(".task-title")).to_have_text("가장 좋은 응답부터 순위를 매기세요")
    expect(page.locator(".ws-progress")).to_contain_text("오늘 완료")
    screenshot(page, "rank-ko")
    # With a Korean input method on, the N key types "ㅜ": the physical key still counts.
    page.evaluate(
        """document.activeElement.dispatchEvent(new KeyboardEvent("keydown",
            {key: "ㅜ", code: "KeyN", bubbles: true, cancelable: true}))"""
    )
    expect(page.locator("input[name=outcome][value=none_acceptable]")).to_be_checked()
    expect(page.locator("[data-reason]")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_contain_text("단축키")


def test_on_a_tablet_the_guidelines_fold_and_the_controls_are_big_enough(
    browser, live_server, screenshot
):
    project = _project(["rate"], n=2)
    context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True)
    page = context.new_page()
    try:
        _login(page, live_server, project)
        guidelines = page.locator("[data-guidelines]")
        expect(guidelines).not_to_have_attribute("open", "")
        page.locator(".ws-guidelines summary").click()
        expect(guidelines.locator(".prose")).to_contain_text("Ties are allowed.")
        for selector in [".seg span", "button[data-submit]", ".skip summary"]:
            box = page.locator(selector).first.bounding_box()
            assert box["height"] >= 44, selector
        box = page.locator(".workspace").bounding_box()
        assert box["width"] <= 820  # nothing runs off the side
        screenshot(page, "rate-tablet")
    finally:
        context.close()
