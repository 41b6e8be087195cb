"""A conversation's whole way through the loop, in a real browser with the real vLLM server:
imported 3-turn conversations are answered by the model from their whole history, an
annotator continues one (a 4-turn conversation is born) and ranks the model's next turns,
and the exports carry every turn, load with `datasets`, and train SFT and DPO on the bundled
model."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from labeling.models import Assignment, Completion, DatasetExport, Judgement, Prompt
from labeling.services.exports import dataset_export_create, dataset_export_run
from labeling.services.generation import completions_refill
from labeling.services.projects import membership_grant
from labeling.services.prompt_import import prompts_import
from tests.factories import ProjectFactory, UserFactory, split_seed
from training.models import TrainingRun
from training.services.runs import training_run_create, training_run_execute

pytestmark = [pytest.mark.browser, pytest.mark.vllm, pytest.mark.loop]

PASSWORD = "correct horse battery staple"
ONE_STEP = {"max_steps": 1, "batch_size": 2, "max_length": 256, "eval": False}
TRIPS = ["Seoul", "Lisbon", "Oslo", "Kyoto", "Lima", "Cairo"]


def _conversation(city: str) -> list[dict]:
    return [
        {"role": "user", "content": f"I am flying to {city} next month."},
        {"role": "assistant", "content": f"Nice! {city} is worth it. How long will you stay?"},
        {"role": "user", "content": "Five days, on a small budget."},
        {"role": "assistant", "content": "Then stay central and walk a lot."},
        {"role": "user", "content": "What one dish must I try?"},
        {"role": "assistant", "content": f"Ask a local in {city}: street food is the answer."},
    ]


@pytest.fixture
def project(settings, vllm_server, tmp_path):
    settings.VLLM_URLS = [vllm_server.url]
    settings.VLLM_SEND_SEED = False
    settings.BASE_MODEL_NAME = vllm_server.served_name
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.MODELS_DIR = tmp_path / "models"
    project = ProjectFactory(
        name="Trips", task_kinds=["continue"], completions_per_prompt=2, max_tokens=24
    )
    path = tmp_path / "trips.jsonl"
    path.write_text("".join(json.dumps({"messages": _conversation(c)}) + "\n" for c in TRIPS))
    report = prompts_import(project=project, path=path)
    assert (report.imported, report.demonstrations) == (6, 6)
    return project


def _served_whole(prompt: Prompt, tokenizer) -> None:
    """The server counted the tokens of every turn: the request held the whole history."""
    whole = [*prompt.history, {"role": "user", "content": prompt.instruction}]

    def tokens(messages):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    counts = set(prompt.completions.values_list("prompt_tokens", flat=True))
    assert counts == {tokens(whole)}, (counts, tokens(whole))
    assert tokens(whole) > tokens(whole[-1:]) + 40  # not the last turn alone


def _login(page, live_server, project):
    user = UserFactory(username="ann")
    membership_grant(project=project, user=user, role="annotator")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Trips").first.click()
    expect(page.locator("#task[data-ready]")).to_be_visible()
    return user


def _trained(project, method, export):
    run = training_run_create(
        project=project, method=method, export=export, overrides=ONE_STEP, enqueue=False
    )
    run = training_run_execute(run=run)
    assert run.status == TrainingRun.Status.SUCCEEDED, f"{run.error}\n{run.log}"
    return run


def _export(project, format):
    split = (0.7, 0.3, 0.0)
    ids = project.prompts.values_list("pk", flat=True)
    seed = split_seed(ids, split, min_train=4, min_held_out=1)
    export = dataset_export_create(
        project=project,
        format=format,
        split=split,
        seed=seed,
        options={"near_duplicates": False},
    )
    export = dataset_export_run(export=export)
    assert export.status == DatasetExport.Status.DONE, export.error
    return export


def test_continue_a_conversation_rank_its_next_turns_export_and_train(
    page, live_server, project, base_model_dir, screenshot
):
    from datasets import load_dataset
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir[0]))
    assert completions_refill(project=project).stored == 12
    for prompt in project.prompts.all():
        _served_whole(prompt, tokenizer)

    # Continue: the thread is shown, the model's candidate turn after it; the annotator
    # writes the user's next message with the keyboard only.
    user = _login(page, live_server, project)
    expect(page.locator("[data-thread] [data-turn]")).to_have_count(4)
    expect(page.locator(".prompt")).to_contain_text("What one dish must I try?")
    expect(page.locator(".turn-candidate")).to_be_visible()
    expect(page.locator("#turn")).to_be_focused()
    continued = Assignment.objects.get(annotator=user, status=Assignment.Status.ACTIVE)
    page.keyboard.type("Is it safe to eat it from a street stall?")
    screenshot(page, "conversation-continue")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".ws-progress")).to_contain_text("1 done today")
    grown = Prompt.objects.get(source="continued")
    assert grown.turns == 4 and len(grown.history) == 6
    assert (
        grown.history[-1]["content"] == Completion.objects.get(pk=continued.completion_ids[0]).text
    )

    # The model answers the 4-turn conversation from all of it.
    assert completions_refill(project=project).stored == 2
    _served_whole(grown, tokenizer)

    # Rank the model's next turns of every conversation (the grown one among them).
    # The admin switches the project to ranking; the continue task the annotator holds (and
    # the one held ready after it) runs out as any lock does.
    project.task_kinds = ["rank"]
    project.save(update_fields=["task_kinds"])
    held = Assignment.objects.filter(annotator=user, expires_at__gt=timezone.now())
    held.exclude(status=Assignment.Status.SUBMITTED).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    page.reload()
    for _ in range(7):
        expect(page.locator("#task[data-ready][data-kind=rank]")).to_be_visible()
        token = page.locator("#task-form input[name=token]").get_attribute("value")
        page.keyboard.press("1")
        page.keyboard.press("2")
        page.keyboard.press("Enter")
        expect(page.locator(f"#task-form input[name=token][value='{token}']")).to_have_count(0)
    expect(page.get_by_role("heading", name="No task for you right now")).to_be_visible()
    assert Judgement.objects.filter(annotator=user, kind="rank").count() == 7
    grown_judgement = Judgement.objects.get(prompt=grown)
    assert grown_judgement.ranking and len(grown_judgement.ranking) >= 1

    # The exports carry every turn and load with datasets; SFT and DPO train on them.
    messages = _export(project, "messages")
    rows = load_dataset("json", data_files=f"{messages.path}/train.jsonl", split="train")
    assert all(len(row["messages"]) == 6 for row in rows)  # 3 user + 3 assistant turns
    _trained(project, "sft", messages)

    preference = _export(project, "preference")
    pairs = [
        row
        for split in ("train", "validation")
        for row in load_dataset(
            "json", data_files=f"{preference.path}/{split}.jsonl", split="train"
        )
    ]
    longest = max(pairs, key=lambda row: len(row["prompt"]))
    assert longest["prompt"] == [
        *grown.history,
        {"role": "user", "content": "Is it safe to eat it from a street stall?"},
    ]
    _trained(project, "dpo", preference)
