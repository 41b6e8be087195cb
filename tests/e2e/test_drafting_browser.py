"""The review of drafted instructions in a real browser, keyboard only: A accepts, E edits
(Ctrl+Enter accepts the edit), R then a digit rejects with that reason; each decision lands
as a prompt with its provenance, or as a rejection, and the next draft comes up."""

import pytest
from playwright.sync_api import expect

from labeling.models import DraftingJob, DraftPrompt, Prompt
from labeling.services.projects import membership_grant
from tests.factories import ProjectFactory, PromptFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
DRAFTS = (
    "Name three birds that cannot fly.",
    "Explain what a <b>leap year</b> is.",  # model text: shown as text, never as markup
    "Write a poem about the sea.",
)


def test_accept_edit_and_reject_drafts_with_the_keyboard(page, live_server, screenshot):
    project = ProjectFactory(name="Drafting", task_kinds=["answer"])
    PromptFactory(project=project, instruction="Write a haiku about rain.")
    job = DraftingJob.objects.create(project=project, count=3)
    drafts = [
        DraftPrompt.objects.create(
            project=project,
            job=job,
            instruction=text,
            category="open_qa",
            language="en",
            drafted_by="SmolLM2",
            drafted_version="SmolLM2",
        )
        for text in DRAFTS
    ]
    user = UserFactory(username="ann")
    membership_grant(project=project, user=user, role="annotator")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Drafting").first.click()
    page.get_by_role("link", name="Drafted instructions").click()
    card = page.locator("[data-draft-form]")
    expect(card).to_have_attribute("data-draft", str(drafts[0].pk))
    expect(page.locator("[data-figure=left]")).to_contain_text("3 drafted instructions wait")

    expect(page.locator("html[data-draft-keys=ready]")).to_be_attached()
    page.keyboard.press("a")  # accept as is
    expect(card).to_have_attribute("data-draft", str(drafts[1].pk))
    expect(page.locator("[data-draft-instruction]")).to_have_text(DRAFTS[1])  # escaped
    screenshot(page, "drafts-review")

    page.keyboard.press("e")  # edit, then accept the edited text
    field = page.locator("textarea[name=instruction]")
    expect(field).to_be_focused()
    field.fill("Explain what a leap year is, in two sentences.")
    page.keyboard.press("Control+Enter")
    expect(card).to_have_attribute("data-draft", str(drafts[2].pk))

    page.keyboard.press("r")  # reject: the reasons open, 3 is "duplicate"
    expect(page.locator("[data-draft-reject] fieldset")).to_be_visible()
    page.keyboard.press("3")
    expect(page.get_by_text("No drafted instruction waits for review.")).to_be_visible()

    accepted, edited, rejected = (DraftPrompt.objects.get(pk=d.pk) for d in drafts)
    assert (accepted.status, accepted.reviewer) == (DraftPrompt.Status.ACCEPTED, user)
    assert accepted.prompt.instruction == DRAFTS[0] and accepted.prompt.draft_edit_distance == 0
    assert edited.status == DraftPrompt.Status.EDITED and edited.edit_distance > 0
    assert edited.prompt.instruction == "Explain what a leap year is, in two sentences."
    assert edited.prompt.source == "drafted" and edited.prompt.drafted_by == "SmolLM2"
    assert (rejected.status, rejected.reject_reason) == ("rejected", "duplicate")
    assert rejected.prompt is None
    assert not Prompt.objects.filter(instruction=DRAFTS[2]).exists()
