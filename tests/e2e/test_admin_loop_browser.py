"""The admin's half of the loop, in the browser: annotated data → "Export dataset…" →
"Train on this export…" → live progress on the run's page → the run publishes its adapter to
the real vLLM server → "Roll back to this version".

The background worker is this test's thread: where the admin queues a job, the test runs the
function the worker's task runs, while the browser keeps polling the run's page.
"""

import json
import re

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from labeling.models import DatasetExport
from labeling.services.exports import dataset_export_run
from labeling.services.queue import judgement_submit, task_next
from tests.factories import (
    CompletionFactory,
    ProjectFactory,
    PromptFactory,
    UserFactory,
    split_seed,
)
from training.models import ModelVersion, TrainingRun
from training.services.runs import training_run_execute

pytestmark = [pytest.mark.browser, pytest.mark.vllm, pytest.mark.loop]

PASSWORD = "correct horse battery staple"
TINY_DPO = {
    "max_steps": 2,
    "batch_size": 2,
    "max_length": 128,
    "learning_rate": 1e-3,
    "eval_max_samples": 2,
}
QUESTIONS = [
    "How do I keep basil alive on a windowsill?",
    "What is the capital of Portugal?",
    "Why is the sky blue during the day?",
    "Suggest a name for a grey cat.",
    "How long should an egg boil to be soft?",
    "What does a barometer measure?",
    "Which planet has the most moons?",
    "Give me one tip for a job interview.",
]


@pytest.fixture
def served(settings, vllm_server, tmp_path):
    settings.VLLM_URLS = [vllm_server.url]
    settings.VLLM_SEND_SEED = False
    settings.MODELS_DIR = tmp_path / "models"
    settings.EXPORTS_DIR = tmp_path / "exports"
    return vllm_server


def judged_project():
    """Compare judgements that always prefer the longer, politer answer."""
    project = ProjectFactory(slug="admin-loop", name="Admin loop", task_kinds=["compare"])
    assert project.model_versions.get(number=0).base_model_path == str(
        django_settings.BASE_MODEL_DIR
    )
    for question in QUESTIONS:
        prompt = PromptFactory(project=project, instruction=question)
        CompletionFactory(prompt=prompt, text="Sure! Here is a careful, friendly answer.")
        CompletionFactory(prompt=prompt, text="No.")
    annotator = UserFactory(username="annotator")
    while (assignment := task_next(annotator=annotator, project=project)) is not None:
        left = assignment.left_completion
        judgement_submit(
            token=assignment.token,
            annotator=annotator,
            choice="a" if left.text != "No." else "b",
            time_spent_ms=3000,
        )
    return project


def run_action(page, changelist_url, row_label, action_label):
    page.goto(changelist_url)
    page.get_by_role("checkbox", name=f"Select this object for an action - {row_label}").check()
    page.locator("select[name=action]").select_option(label=action_label)
    page.get_by_role("button", name="Go").click()


def test_export_train_publish_and_roll_back_from_the_admin(page, live_server, served):
    project = judged_project()
    UserFactory(username="root", is_staff=True, is_superuser=True)
    page.set_default_timeout(30_000)

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    expect(page.get_by_role("link", name="Training runs")).to_be_visible()

    # Export the judgements as preference pairs, with enough prompts held out to compare on.
    run_action(
        page,
        f"{live_server.url}/admin/labeling/project/",
        "Admin loop",
        "Export dataset…",
    )
    page.locator("select[name=format]").select_option("preference")
    ids = project.prompts.values_list("pk", flat=True)
    seed = split_seed(ids, (0.6, 0.4, 0.0), min_train=4, min_held_out=2)
    page.locator("input[name=split]").fill("0.6,0.4,0")
    page.locator("input[name=seed]").fill(str(seed))
    page.get_by_role("button", name="Export dataset").click()
    expect(page.get_by_text(re.compile(r"Queued export #\d+"))).to_be_visible()
    export = dataset_export_run(export=DatasetExport.objects.get(project=project))
    assert export.status == DatasetExport.Status.DONE, export.error

    # Train on it: the export's format chose DPO; publish when it succeeds.
    run_action(
        page,
        f"{live_server.url}/admin/labeling/datasetexport/",
        str(export),
        "Train on this export…",
    )
    expect(page.locator("select[name=method]")).to_have_value("dpo")
    page.locator("textarea[name=overrides]").fill(json.dumps(TINY_DPO))
    page.locator("select[name=publish]").select_option("always")
    page.get_by_role("button", name="Start training run").click()
    expect(page.get_by_role("heading", name="Progress: Queued")).to_be_visible()

    run = TrainingRun.objects.get(project=project)
    assert (run.export, run.publish) == (export, "always")
    run = training_run_execute(run=run)  # the training worker's job
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error + run.log

    # The page was polling: it now shows the outcome without a reload.
    expect(page.get_by_role("heading", name="Progress: Succeeded")).to_be_visible()
    gate = page.locator("#publish-gate")
    base = project.model_versions.get(number=0)
    expect(gate).to_contain_text("admin-loop-v1 is live")  # published as the next version
    expect(gate).to_contain_text(f"vs {base.served_name}")  # compared with its parent
    v1 = ModelVersion.objects.get(project=project, number=1)
    assert v1.status == ModelVersion.Status.LIVE
    assert "admin-loop-v1" in {m.id for m in served.client.models()}

    run_action(
        page,
        f"{live_server.url}/admin/training/modelversion/",
        "admin-loop-v0 (Retired)",
        "Roll back to this version",
    )
    expect(page.get_by_text("is live again")).to_be_visible()
    live = ModelVersion.objects.get(project=project, status=ModelVersion.Status.LIVE)
    assert live.number == 0
