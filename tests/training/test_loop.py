"""The whole cycle on the real vLLM server and the bundled model: completions → judgements →
preference export (the export pipeline, with a held-out split) → a short DPO run that publishes
itself (hot-loaded, no restart) → greedy output of the new version differs → annotators' compare
tasks pit it against the base and the head-to-head counts them → rollback → the base's greedy
output again."""

import pytest
from django.conf import settings as django_settings

from labeling.models import Completion, DatasetExport
from labeling.selectors.head_to_head import version_head_to_head
from labeling.services import generation
from labeling.services.exports import dataset_export_create, dataset_export_run
from labeling.services.queue import judgement_submit, task_next
from serving.vllm.client import Sampling
from tests.factories import ProjectFactory, PromptFactory, UserFactory, split_seed
from training.engine.prompts import prompt_messages
from training.models import ModelVersion, TrainingRun
from training.services.runs import training_run_create, training_run_execute
from training.services.versions import model_version_rollback

pytestmark = [pytest.mark.loop, pytest.mark.vllm, pytest.mark.django_db(transaction=True)]

PROBE = "Describe a quiet morning."
PROMPTS = [
    PROBE,  # the oldest prompt: the first refill after publishing answers it
    "Say something about tea.",
    "Which river is the longest in Europe?",
    "Why do owls hunt at night?",
    "Give me a tip for baking bread at home.",
    "How does a knight move in chess?",
    "What makes rain fall from clouds?",
    "Name three colours of the rainbow.",
]  # the refill's minimum buffer (8): one refill answers them all
DPO = {
    "learning_rate": 1e-2,  # a few steps must visibly move greedy output
    "max_steps": 4,
    "batch_size": 2,
    "max_length": 160,
    "lora_r": 8,
    "eval_max_samples": 4,
}


@pytest.fixture
def served(settings, vllm_server, tmp_path, monkeypatch):
    """Point the app at the test server and record the model name of every chat request."""
    settings.VLLM_URLS = [vllm_server.url]
    settings.VLLM_SEND_SEED = False
    settings.MODELS_DIR = tmp_path / "models"
    settings.EXPORTS_DIR = tmp_path / "exports"
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


def preference_export(project):
    """The compare judgements as TRL preference pairs, with a held-out split.

    The split is by a hash of (seed, prompt id); the seed is picked so that at least four
    prompts train (DPO's minimum) and two are held out for the gate's comparison.
    """
    split = (0.6, 0.4, 0.0)
    ids = project.prompts.values_list("pk", flat=True)
    seed = split_seed(ids, split, min_train=4, min_held_out=2)
    export = dataset_export_create(
        project=project,
        format=DatasetExport.Format.PREFERENCE,
        split=split,
        seed=seed,
        options={"near_duplicates": False},
    )
    export = dataset_export_run(export=export)
    assert export.status == DatasetExport.Status.DONE, export.error
    assert export.rows_train >= 4 and export.rows_validation >= 2, export.manifest
    return export


def greedy_completion(project, prompt, version):
    generation.completions_refill(project=project)
    return Completion.objects.filter(prompt=prompt, model_version=version).latest("pk")


def base_greedy(vllm_server, base, text):
    sampling = Sampling(n=1, temperature=0.0, max_tokens=24)
    reply = vllm_server.client.chat(
        model=base.served_name, messages=prompt_messages(text), sampling=sampling
    )
    return reply.choices[0].text


def greedy_settings(project, *, share=0.0, per_prompt=1, temperature=0.0):
    project.compare_share, project.completions_per_prompt = share, per_prompt
    project.temperature = temperature
    project.save(update_fields=["compare_share", "completions_per_prompt", "temperature"])


def test_label_export_train_publish_compare_rollback(served, vllm_server):
    project = ProjectFactory(
        slug="loop",
        task_kinds=["compare"],
        completions_per_prompt=2,
        max_tokens=24,
        compare_share=0.0,
    )
    base = project.model_versions.get(number=0)
    assert base.served_name == vllm_server.served_name
    assert base.base_model_path == str(django_settings.BASE_MODEL_DIR)
    for text in PROMPTS:
        PromptFactory(project=project, instruction=text)

    report = generation.completions_refill(project=project)
    assert report.stored == 2 * len(PROMPTS), report
    assert set(served) == {vllm_server.served_name}
    assert judge_consistently(project, UserFactory(username="annotator")) == len(PROMPTS)
    export = preference_export(project)

    later_probe = "Describe a busy evening."
    base_text = base_greedy(vllm_server, base, PROBE)
    base_later_text = base_greedy(vllm_server, base, later_probe)

    # What the admin's "Start training run" does, with "publish when it succeeds".
    run = training_run_create(
        project=project,
        method="dpo",
        export=export,
        overrides=DPO,
        publish=TrainingRun.Publish.ALWAYS,
        enqueue=False,
    )
    run = training_run_execute(run=run)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error + run.log
    assert run.step == 4 and len([e for e in run.history if e["loss"] is not None]) >= 4
    v1 = run.result_version
    v1.refresh_from_db()
    base.refresh_from_db()
    assert v1.served_name == "loop-v1" and v1.status == ModelVersion.Status.LIVE
    assert base.status == ModelVersion.Status.RETIRED
    assert run.gate["published"] is True and run.gate["parent_version"] == base.served_name
    assert 0.0 <= run.gate["figures"]["eval_vs_parent_accuracy"] <= 1.0
    assert run.gate["figures"]["eval_pairs"] == export.rows_validation
    assert "loop-v1" in {m.id for m in vllm_server.client.models()}

    greedy_settings(project)
    prompt = project.prompts.get(instruction=PROBE)
    served.clear()
    tuned = greedy_completion(project, prompt, v1)
    assert tuned.model_version == v1
    assert set(served) == {"loop-v1"}
    assert tuned.text != base_text

    # The annotators' next compare tasks pit the new version against the one it replaced.
    greedy_settings(project, share=1.0, per_prompt=2, temperature=0.7)
    for text in ("Tell me about the sea.", "What is a good breakfast?"):
        PromptFactory(project=project, instruction=text)
    served.clear()
    generation.completions_refill(project=project)
    assert set(served) == {"loop-v1", vllm_server.served_name}
    assert judge_consistently(project, UserFactory(username="second")) >= 2
    head_to_head = version_head_to_head(project)
    assert head_to_head.live == v1 and head_to_head.comparison == base
    assert head_to_head.counts.n >= 2

    model_version_rollback(version=base)
    assert project.model_versions.get(status=ModelVersion.Status.LIVE) == base
    greedy_settings(project)
    later = PromptFactory(project=project, instruction=later_probe)
    served.clear()
    again = greedy_completion(project, later, base)
    assert again.model_version == base
    assert set(served) == {vllm_server.served_name}
    assert again.text == base_later_text
