"""No page breaks its own Content Security Policy: every page an annotator, a reviewer or an
admin opens is loaded in Chromium, and any violation the browser reports fails the test.

The policy (`style-src 'self'`, `script-src 'self'`) blocks inline styles and scripts; a
blocked one is a page that silently looks or works wrong, so the browser's own report is the
measure: the `securitypolicyviolation` event and the console's "Content Security Policy" lines.
"""

import json
import re

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from playwright.sync_api import expect

from labeling.services.exports import dataset_export_create, dataset_export_run
from labeling.services.projects import membership_grant
from labeling.services.queue import demonstration_submit, judgement_submit, task_next
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory
from training.models import TrainingRun
from training.services.runs import training_run_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
KINDS = ["write", "answer", "rank", "compare", "rate", "edit"]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || location.pathname}:${event.lineNumber}`);
});
"""


@pytest.fixture
def watched(browser):
    """A page that records every CSP violation any document it loads reports."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.console_violations = console
    yield page
    context.close()


def _violations(page) -> list[str]:
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # violation events are dispatched asynchronously
    reported = page.evaluate("window.__csp || []")
    seen = reported + page.console_violations
    page.console_violations.clear()
    return seen


def _visit_all(page, urls) -> dict[str, list[str]]:
    broken = {}
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.status < 400, (url, response and response.status)
        if found := _violations(page):
            broken[url] = found
    return broken


def _login(page, base_url, username, *, admin_site=False):
    page.goto(f"{base_url}{'/admin/login/' if admin_site else '/accounts/login/'}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    page.wait_for_load_state("load")


def _kind_project(kind):
    project = ProjectFactory(
        slug=f"csp-{kind}",
        name=f"CSP {kind}",
        task_kinds=[kind],
        completions_per_prompt=2,
        overlap=2,
    )
    for number in range(2):
        prompt = PromptFactory(project=project, instruction=f"Say hello in language {number}.")
        CompletionFactory(prompt=prompt, text="Hello! <b>bold?</b> <style>p{color:red}</style>")
        CompletionFactory(prompt=prompt, text="**Bonjour** `code`")
    return project


def _everything():
    """A project per task kind, with something on every page: a judgement, a pending
    demonstration, an export and a running training run with a log."""
    projects = {kind: _kind_project(kind) for kind in KINDS}
    worker = UserFactory(username="worker")
    for project in projects.values():
        membership_grant(project=project, user=worker, role="annotator")
    while (answer := task_next(annotator=worker, project=projects["answer"])) is not None:
        demonstration_submit(
            token=answer.token, annotator=worker, output="Hello there.", time_spent_ms=1000
        )
    compare = task_next(annotator=worker, project=projects["compare"])
    judgement_submit(token=compare.token, annotator=worker, choice="a", time_spent_ms=1000)
    project = projects["answer"]
    export = dataset_export_create(project=project, format="messages", split=(1.0, 0.0, 0.0))
    export = dataset_export_run(export=export)
    run = training_run_create(project=project, method="sft", export=export, enqueue=False)
    # What the training worker writes while it runs (the run page then polls and shows a log).
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, log="step 1 loss 2.31\nstep 2 loss 2.05\n"
    )
    return projects, export, run


def _admin_urls(base_url, superuser, *, project, export, run) -> list[str]:
    """Every registered model's list, add and change pages, and the project's own pages."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    urls = [f"{base_url}/admin/"]
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(f"{base_url}{reverse(f'{name}_changelist')}")
        if model_admin.has_add_permission(request):
            urls.append(f"{base_url}{reverse(f'{name}_add')}")
        first = model._default_manager.order_by("pk").first()
        if first is not None and model_admin.has_change_permission(request, first):
            urls.append(f"{base_url}{reverse(f'{name}_change', args=[first.pk])}")
    urls += [
        f"{base_url}{reverse('admin:labeling_project_quality', args=[project.pk])}",
        f"{base_url}{reverse('admin:training_trainingrun_change', args=[run.pk])}",
        f"{base_url}{reverse('admin:labeling_datasetexport_change', args=[export.pk])}",
    ]
    return urls


def test_no_admin_page_breaks_the_csp(watched, live_server):
    projects, export, run = _everything()
    project = projects["compare"]
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    _login(watched, live_server.url, "root", admin_site=True)

    urls = _admin_urls(live_server.url, root, project=project, export=export, run=run)
    broken = _visit_all(watched, urls)

    # The run page polls its progress over htmx: the swapped-in fragment counts too.
    watched.goto(f"{live_server.url}{reverse('admin:training_trainingrun_change', args=[run.pk])}")
    expect(watched.locator("#run-progress pre")).to_contain_text("step 2 loss 2.05")
    watched.wait_for_timeout(2500)
    if found := _violations(watched):
        broken["run progress after polling"] = found
    assert broken == {}, json.dumps(broken, indent=1)


def test_no_annotator_or_reviewer_page_breaks_the_csp(watched, live_server):
    projects, _, _ = _everything()
    annotator = UserFactory(username="ann")
    reviewer = UserFactory(username="rev")
    for project in projects.values():
        membership_grant(project=project, user=annotator, role="annotator")
        membership_grant(project=project, user=reviewer, role="reviewer")
    base = live_server.url

    _login(watched, base, "ann")
    broken = _visit_all(watched, [f"{base}/"])
    for kind, project in projects.items():
        watched.goto(f"{base}{reverse('labeling:workspace', args=[project.slug])}")
        expect(watched.locator(f"#task[data-ready][data-kind={kind}]")).to_be_visible()
        if found := _violations(watched):
            broken[f"{kind} task"] = found
    broken |= _visit_all(
        watched, [f"{base}{reverse('labeling:my_work', args=[projects['answer'].slug])}"]
    )

    watched.context.clear_cookies()
    _login(watched, base, "rev")
    review = f"{base}{reverse('labeling:review', args=[projects['answer'].slug])}"
    broken |= _visit_all(watched, [review])
    expect(watched.locator("[data-output]", has_text="Hello there.").first).to_be_visible()
    broken |= _visit_all(watched, [f"{base}/api/docs/"])
    assert broken == {}, json.dumps(broken, indent=1)
