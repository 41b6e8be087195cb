"""Conversations in the app: generation sends the whole history, the workspace shows it as a
thread, a continue task grows it by the user's next turn, and every export carries it, in
the rendering the trainer and the server share."""

import pytest
from django.urls import reverse

from labeling.models import Assignment, Prompt
from labeling.services.generation import completion_jobs
from labeling.services.projects import membership_grant
from labeling.services.prompts import prompt_create
from tests.factories import CompletionFactory, ProjectFactory, UserFactory
from tests.labeling.exports.builders import (
    completions,
    demonstration,
    exported,
    rank,
    rate,
    rows_of,
)
from tests.labeling.test_workspace_views import _annotator
from training.engine.data import load_snapshot
from training.engine.evaluation.generation import sft_references
from training.engine.prompts import TEXT, TextTemplate, prompt_request
from training.selectors.versions import live_version

pytestmark = pytest.mark.django_db

HISTORY = [
    {"role": "system", "content": "You are a travel guide."},
    {"role": "user", "content": "I am going to Seoul in May."},
    {"role": "assistant", "content": "Lovely: May is warm and dry there."},
    {"role": "user", "content": "What should I pack?"},
    {"role": "assistant", "content": "Light layers and good walking shoes."},
]
LAST = "And which neighbourhood should I stay in?"


@pytest.fixture(autouse=True)
def _exports_dir(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"


def _conversation(project, history=HISTORY, instruction=LAST):
    return prompt_create(project=project, instruction=instruction, history=history)


def test_generation_answers_the_last_turn_given_every_earlier_one():
    project = ProjectFactory()
    prompt = _conversation(project)
    (job,) = completion_jobs(project=project, prompts=[prompt], live=live_version(project))
    assert job.messages == [*HISTORY, {"role": "user", "content": LAST}]

    # A base model without a chat template reads the earlier turns through the template.
    request = prompt_request(
        TEXT, TextTemplate(project.text_template), instruction=LAST, input="", history=HISTORY
    )
    assert "User: I am going to Seoul in May.\n\nAssistant: Lovely" in request.prompt_text
    assert request.prompt_text.index("System: You are a travel guide.") < request.prompt_text.index(
        f"User: {LAST}"
    )


def test_a_history_that_is_not_a_conversation_is_refused():
    project = ProjectFactory()
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        _conversation(project, history=HISTORY[:4])  # ends with the user's turn
    assert "a history ends with an assistant turn" in str(refused.value)
    with pytest.raises(ValidationError):
        _conversation(project, history=[{"role": "user", "content": " "}, HISTORY[2]])
    # The same words after another conversation are a new prompt, not a duplicate.
    _conversation(project)
    _conversation(project, history=HISTORY[1:3])
    with pytest.raises(ValidationError):
        _conversation(project)
    assert Prompt.objects.filter(instruction=LAST).count() == 2


def test_the_workspace_shows_the_thread_with_earlier_turns_folded(client):
    project = ProjectFactory(task_kinds=["rank"], completions_per_prompt=2)
    long_history = [
        turn
        for number in range(4)
        for turn in (
            {"role": "user", "content": f"Question {number}"},
            {"role": "assistant", "content": f"Answer **{number}** <script>x()</script>"},
        )
    ]
    prompt = _conversation(project, history=long_history, instruction="Question 4")
    CompletionFactory.create_batch(2, prompt=prompt)
    _annotator(client, project)
    html = client.get(reverse("labeling:workspace", kwargs={"slug": project.slug})).content
    html = html.decode().split("<template data-preload")[0]
    thread = html[html.index("data-thread") : html.index('aria-label="Prompt"')]
    earlier = thread[thread.index("data-thread-earlier") : thread.index("</details>")]
    assert "4 earlier turns" in earlier and "Question 0" in earlier and "Question 2" not in earlier
    assert "Question 2" in thread and "Answer <strong>3</strong>" in thread  # the last 4 turns
    assert "<script>x()" not in html  # model text stays inert
    assert "User (the turn to answer)" in html and "Question 4" in html


def test_a_continue_task_makes_the_conversation_one_exchange_longer(client):
    project = ProjectFactory(task_kinds=["continue"], completions_per_prompt=2)
    prompt = _conversation(project)
    shown_texts = {c.text for c in CompletionFactory.create_batch(2, prompt=prompt)}
    user = _annotator(client, project)
    url = reverse("labeling:workspace", kwargs={"slug": project.slug})
    html = client.get(url).content.decode().split("<template data-preload")[0]
    assert "Continue the conversation" in html and 'name="turn"' in html
    assignment = Assignment.objects.get(annotator=user, status=Assignment.Status.ACTIVE)
    shown = assignment.completion_ids[0]
    post = {"token": str(assignment.token), "kind": "continue", "time_spent_ms": "900"}

    refused = client.post(url, {**post, "turn": "  "}).content.decode()
    assert "Write the user" in refused  # nothing stored, the task is given back
    assert not Prompt.objects.filter(source="continued").exists()

    client.post(url, {**post, "turn": "Somewhere near the palaces, please."})
    grown = Prompt.objects.get(source="continued")
    assert grown.instruction == "Somewhere near the palaces, please."
    assert grown.history[:5] == HISTORY
    assert grown.history[5] == {"role": "user", "content": LAST}
    assert grown.history[6]["role"] == "assistant" and grown.history[6]["content"] in shown_texts
    assert grown.metadata["continued_from"] == prompt.pk and grown.metadata["completion"] == shown
    assert grown.turns == 4
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED

    client.post(url, {**post, "turn": "Somewhere near the palaces, please."})  # a resend
    assert Prompt.objects.filter(source="continued").count() == 1


def _judged_conversation(project):
    prompt = _conversation(project)
    good, poor = completions(prompt, "Stay in Jongno, near the palaces.", "Anywhere.")
    demonstration(prompt, "Jongno or Bukchon: walkable and central.")
    rank(prompt, UserFactory(), [good], [poor])
    return prompt, good, poor


def test_exports_carry_every_turn_and_the_trainer_reads_them_whole():
    project = ProjectFactory()
    prompt, good, poor = _judged_conversation(project)
    whole = [*HISTORY, {"role": "user", "content": LAST}]

    messages = exported(project, "messages", split=(1.0, 0.0, 0.0))
    (row,) = rows_of(messages)
    assert row["messages"][:-1] == whole
    assert row["messages"][-1]["role"] == "assistant"
    assert messages.manifest["prompts"]["conversations"] == 1
    assert messages.manifest["conversation_rendering"].startswith("messages: every turn")
    # SFT trains on every assistant turn of it (loss on the assistant's words only).
    train = load_snapshot(messages.path, "sft").splits["train"]
    assert len(train) == 3
    assert [len(r["prompt"]) for r in train] == [2, 4, 6]
    assert all(r["completion"][0]["role"] == "assistant" for r in train)
    prompts, references = sft_references(train)
    assert prompts[-1] == whole and references[-1] == "Jongno or Bukchon: walkable and central."

    preference = exported(project, "preference", split=(1.0, 0.0, 0.0))
    (pair,) = rows_of(preference)
    assert pair["prompt"] == whole
    assert pair["chosen"][0]["content"].startswith("Stay in Jongno")
    assert load_snapshot(preference.path, "dpo").splits["train"][0]["prompt"] == whole

    rate(prompt, UserFactory(), {good: "up", poor: "down"})
    kto = exported(project, "kto", split=(1.0, 0.0, 0.0))
    assert {(tuple(map(str, r["prompt"])), r["label"]) for r in rows_of(kto)} >= {
        (tuple(map(str, whole)), True),
        (tuple(map(str, whole)), False),
    }
    assert load_snapshot(kto.path, "kto").splits["train"][0]["prompt"] == whole

    alpaca = exported(project, "alpaca", split=(1.0, 0.0, 0.0))
    (flat,) = rows_of(alpaca)
    assert flat["instruction"].startswith("System: You are a travel guide.\n\nUser: I am going")
    assert flat["instruction"].endswith(
        f"Assistant: Light layers and good walking shoes.\n\nUser: {LAST}"
    )
    assert alpaca.manifest["conversation_rendering"].startswith("flattened into the instruction")


def test_an_imported_hh_pair_reaches_the_preference_export(tmp_path):
    from labeling.services.prompt_import import prompts_import

    project = ProjectFactory()
    path = tmp_path / "hh.jsonl"
    path.write_text(
        '{"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello!\\n\\nHuman: A fruit?\\n\\n'
        'Assistant: An apple.", "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Hello!\\n\\n'
        'Human: A fruit?\\n\\nAssistant: No."}\n'
    )
    prompts_import(project=project, path=path)
    preference = exported(project, "preference", split=(1.0, 0.0, 0.0))
    (pair,) = rows_of(preference)
    assert pair["prompt"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "A fruit?"},
    ]
    assert (pair["chosen"][0]["content"], pair["rejected"][0]["content"]) == ("An apple.", "No.")
    assert pair["completion_ids"] == [0] and pair["sources"][0].startswith("demonstration:")
    assert preference.manifest["sources"]["pairs_imported"] == 1


def test_the_api_shows_the_history_and_takes_a_continuation():
    from rest_framework.test import APIClient

    project = ProjectFactory(task_kinds=["continue"], completions_per_prompt=2)
    prompt = _conversation(project)
    CompletionFactory.create_batch(2, prompt=prompt)
    user = UserFactory()
    membership_grant(project=project, user=user, role="annotator")
    api = APIClient()
    api.force_authenticate(user)
    task = api.get(f"/api/projects/{project.slug}/task/").json()["task"]
    assert task["kind"] == "continue" and task["prompt"]["history"] == HISTORY
    url = f"/api/tasks/{task['token']}/continuation/"

    empty = api.post(url, {"turn": "", "time_spent_ms": 10}, format="json")
    assert empty.status_code == 400 and "turn" in empty.json()
    wrong = api.post(f"/api/tasks/{task['token']}/judgement/", {"time_spent_ms": 10}, format="json")
    assert wrong.status_code >= 400  # a judgement is not what this task takes

    made = api.post(url, {"turn": "Cheaper, please.", "time_spent_ms": 10}, format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["instruction"] == "Cheaper, please." and len(body["history"]) == 7
    assert body["source"] == "continued"
