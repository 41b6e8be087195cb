"""The whole cycle on the real vLLM server and the bundled model: completions → judgements →
preference snapshot → a short DPO run → publish (hot-loaded, no restart) → greedy output of the
new version differs → rollback → the base's greedy output again."""

import json

import pytest
from django.conf import settings as django_settings

from labeling.models import Completion, Judgement
from labeling.services import generation
from labeling.services.queue import judgement_submit, task_next
from serving.client import Sampling
from serving.concurrent_chat import prompt_messages
from tests.factories import ProjectFactory, PromptFactory, UserFactory
from training.models import ModelVersion, TrainingRun
from training.services.runs import training_run_create, training_run_execute
from training.services.versions import model_version_publish, model_version_rollback

pytestmark = [pytest.mark.loop, pytest.mark.vllm, pytest.mark.django_db(transaction=True)]

TOPICS = ["tea", "rivers", "owls", "bread", "chess", "rain"]
DPO = {
    "learning_rate": 1e-2,  # a few steps must visibly move greedy output
    "max_steps": 4,
    "batch_size": 2,
    "max_length": 160,
    "lora_r": 8,
    "eval": False,
}


@pytest.fixture
def served(settings, vllm_server, tmp_path, monkeypatch):
    """Point the app at the test server and record the model name of every chat request."""
    settings.VLLM_URLS = [vllm_server.url]
    settings.VLLM_SEND_SEED = False
    settings.MODELS_DIR = tmp_path / "models"
    requested: list[str] = []
    make_pool = generation.server_pool

    def recording_pool():
        pool = make_pool()
        chat = pool.chat

        def chat_and_record(*, model, **kwargs):
            requested.append(model)
            return chat(model=model, **kwargs)

        pool.chat = chat_and_record
        return pool

    monkeypatch.setattr(generation, "server_pool", recording_pool)
    return requested


def judge_consistently(project, annotator) -> int:
    """Compare tasks until none are left, always preferring the shorter completion."""
    judged = 0
    while (assignment := task_next(annotator=annotator, project=project)) is not None:
        left, right = assignment.left_completion, assignment.right_completion
        choice = "a" if len(left.text) <= len(right.text) else "b"
        judgement_submit(
            token=assignment.token, annotator=annotator, choice=choice, time_spent_ms=4000
        )
        judged += 1
    return judged


def preference_snapshot(project, directory):
    """Preference pairs from the compare judgements (stands in for the dataset export)."""
    rows = []
    for judgement in Judgement.objects.filter(prompt__project=project, kind="compare"):
        left, right = judgement.left_completion, judgement.right_completion
        chosen, rejected = (left, right) if judgement.choice == "a" else (right, left)
        rows.append(
            {
                "prompt": prompt_messages(judgement.prompt.instruction),
                "chosen": [{"role": "assistant", "content": chosen.text}],
                "rejected": [{"role": "assistant", "content": rejected.text}],
            }
        )
    directory.mkdir(parents=True)
    (directory / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for split in ("validation", "test"):
        (directory / f"{split}.jsonl").write_text("")
    manifest = {"format": "preference", "rows": {"train": len(rows), "validation": 0, "test": 0}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def greedy_completion(project, prompt):
    generation.completions_refill(project=project)
    return Completion.objects.filter(prompt=prompt).latest("pk")


def test_label_train_publish_serve_rollback(served, vllm_server, tmp_path):
    project = ProjectFactory(
        slug="loop", task_kinds=["compare"], completions_per_prompt=2, max_tokens=24
    )
    base = project.model_versions.get(number=0)
    assert base.served_name == vllm_server.served_name
    assert base.base_model_path == str(django_settings.BASE_MODEL_DIR)
    for topic in TOPICS:
        PromptFactory(project=project, instruction=f"Say something about {topic}.")

    report = generation.completions_refill(project=project)
    assert report.stored == 2 * len(TOPICS), report
    assert set(served) == {vllm_server.served_name}
    assert judge_consistently(project, UserFactory(username="annotator")) == len(TOPICS)

    run = training_run_create(
        project=project,
        method="dpo",
        snapshot_dir=preference_snapshot(project, tmp_path / "snapshot"),
        overrides=DPO,
        enqueue=False,
    )
    run = training_run_execute(run=run)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error + run.log
    assert run.step == 4 and len([e for e in run.history if e["loss"] is not None]) >= 4
    v1 = run.result_version
    assert v1.served_name == "loop-v1" and v1.status == ModelVersion.Status.CANDIDATE

    probe = "Describe a quiet morning."
    sampling = Sampling(n=1, temperature=0.0, max_tokens=24)
    base_text = (
        vllm_server.client.chat(
            model=base.served_name, messages=prompt_messages(probe), sampling=sampling
        )
        .choices[0]
        .text
    )

    model_version_publish(version=v1)
    v1.refresh_from_db()
    assert v1.status == ModelVersion.Status.LIVE
    assert "loop-v1" in {m.id for m in vllm_server.client.models()}

    project.temperature, project.completions_per_prompt = 0.0, 1
    project.save(update_fields=["temperature", "completions_per_prompt"])
    prompt = PromptFactory(project=project, instruction=probe)
    served.clear()
    tuned = greedy_completion(project, prompt)
    assert tuned.model_version == v1
    assert set(served) == {"loop-v1"}
    assert tuned.text != base_text

    model_version_rollback(version=base)
    assert project.model_versions.get(status=ModelVersion.Status.LIVE) == base
    served.clear()
    again = greedy_completion(project, prompt)
    assert again.model_version == base
    assert set(served) == {vllm_server.served_name}
    assert again.text == base_text
