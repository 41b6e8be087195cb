"""Every path an admin can click from people's data to a trained adapter, through the services
the admin uses: annotators work the queue, the admin exports (dataset_export_create/run) and
starts a run on the export (training_run_create), and the worker trains it
(training_run_execute), on the bundled model for one step.

The exports use the real pipeline: Alpaca, Dolly, messages, text (JSON Lines or Parquet) from
answered prompts feed SFT; compare judgements give preference pairs for DPO, ORPO and a reward
model, and the reward model's version drives an RLHF run; thumbs up/down give KTO rows with
unequal counts, which the run balances with class weights set from them. Every adapter is
loaded with PEFT onto the base model it names. Each run's time is printed (`-s`), not asserted.
"""

import json
import time
import warnings
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from core.refusals import RefusalCode
from labeling.models import DatasetExport, Role
from labeling.services.exports import dataset_export_create, dataset_export_run
from labeling.services.projects import membership_grant
from labeling.services.queue import demonstration_submit, judgement_submit, task_next
from tests.factories import (
    CompletionFactory,
    ProjectFactory,
    PromptFactory,
    UserFactory,
    split_seed,
)
from training.admin import TrainingRunStartForm
from training.engine.prompts import prompt_messages, user_content
from training.models import ModelVersion, TrainingRun
from training.services.runs import training_run_create, training_run_execute
from training.services.versions import PublishError, model_version_publish

pytestmark = pytest.mark.django_db

# One optimiser step on the bundled 135M model: a path works, not how well it learns.
ONE_STEP = {"max_steps": 1, "batch_size": 2, "max_length": 128, "eval": False}
TOPICS = ["otters", "herons", "tea", "rivers", "owls", "bread"]
SPLIT = (0.7, 0.3, 0.0)


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.MODELS_DIR = tmp_path / "models"


def project_with_prompts(slug: str, *, kinds: list[str], completions: int = 0):
    """A project whose prompts (every other one with an input) have `completions` each of
    the live version, for the kinds that show completions."""
    project = ProjectFactory(
        slug=slug, task_kinds=kinds, completions_per_prompt=max(completions, 2)
    )
    for n, topic in enumerate(TOPICS):
        prompt = PromptFactory(
            project=project,
            instruction=f"Tell me one fact about {topic}.",
            input=f"For a {topic} leaflet." if n % 2 else "",
            category="open_qa",
        )
        for k in range(completions):
            CompletionFactory(prompt=prompt, text=f"{'Sure! ' * (k == 0)}{topic} answer {k}.")
    return project


def work_the_queue(project, submit) -> int:
    """One annotator takes every task the queue hands out and submits it with `submit`."""
    annotator = UserFactory(username=f"annotator-{project.slug}")
    done = 0
    while (assignment := task_next(annotator=annotator, project=project)) is not None:
        submit(assignment, annotator)
        done += 1
    return done


def answer(assignment, annotator):
    demonstration_submit(
        token=assignment.token,
        annotator=annotator,
        output=f"A short, friendly answer about prompt {assignment.prompt_id}.",
        time_spent_ms=4000,
    )


def prefer_left(assignment, annotator):
    judgement_submit(token=assignment.token, annotator=annotator, choice="a", time_spent_ms=3000)


def thumbs_two_up_one_down(assignment, annotator):
    """Unequal counts on purpose: twice as many desirable completions as undesirable."""
    thumbs = ["up", "up", "down"]
    ratings = {pk: {"thumb": thumbs[i % 3]} for i, pk in enumerate(assignment.completion_ids)}
    judgement_submit(
        token=assignment.token, annotator=annotator, ratings=ratings, time_spent_ms=3000
    )


def export_of(project, format: str, **arguments) -> DatasetExport:
    """The admin's export with a held-out split that leaves enough prompts to train on."""
    seed = split_seed(
        project.prompts.values_list("pk", flat=True), SPLIT, min_train=4, min_held_out=1
    )
    export = dataset_export_create(
        project=project,
        format=format,
        split=SPLIT,
        seed=seed,
        options={"near_duplicates": False},
        **arguments,
    )
    export = dataset_export_run(export=export)
    assert export.status == DatasetExport.Status.DONE, export.error
    assert export.rows_train >= 4, export.manifest
    return export


def sft_project(slug: str):
    project = project_with_prompts(slug, kinds=["answer"])
    assert work_the_queue(project, answer) == len(TOPICS)
    return project


def trained(
    project,
    method: str,
    export: DatasetExport,
    *,
    reward_version: ModelVersion | None = None,
    **overrides,
) -> TrainingRun:
    """What "Train on this export…" queues, then what the worker does with it."""
    started = time.monotonic()
    run = training_run_create(
        project=project,
        method=method,
        export=export,
        reward_version=reward_version,
        overrides={**ONE_STEP, **overrides},
        enqueue=False,
    )
    run = training_run_execute(run=run)
    print(f"\n[path time] {method} on {export.format}: {time.monotonic() - started:.1f} s")
    return run


def assert_adapter(run: TrainingRun) -> Path:
    assert run.status == TrainingRun.Status.SUCCEEDED, f"{run.error}\n{run.log}"
    adapter = Path(run.result_version.adapter_path)
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "adapter_model.safetensors").is_file()
    assert_loads_on_base(run.result_version)
    return adapter


def assert_loads_on_base(version: ModelVersion) -> None:
    """PEFT loads the version's adapter onto its base model (a causal LM, or the one-output
    classifier of a reward model) with every adapter weight found, and it changes the output."""
    import torch
    from peft import PeftModel

    from training.engine import recipe, reward
    from training.engine.publish import read_meta

    base = version.base_model_path
    is_reward = read_meta(version.adapter_path).get("task") == "reward_model"
    model = reward.load_classifier(base) if is_reward else recipe.load_causal_lm(base)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(model, version.adapter_path)
    missing = [str(w.message) for w in caught if "missing adapter keys" in str(w.message)]
    assert not missing, missing
    ids = recipe.load_tokenizer(base)("Tell me one fact about otters.", return_tensors="pt")
    with torch.no_grad():
        tuned = model(**ids).logits
        with model.disable_adapter():
            plain = model(**ids).logits
    assert not torch.equal(tuned, plain), "the adapter does not change the base model's output"


@pytest.mark.parametrize(
    ("format", "parquet"),
    [("alpaca", False), ("dolly", False), ("messages", False), ("text", False), ("alpaca", True)],
)
def test_demonstrations_exported_in_each_sft_format_train_sft(format, parquet):
    project = sft_project(f"sft-{format}{'-pq' * parquet}")
    export = export_of(project, format, parquet=parquet)
    suffix = ".parquet" if parquet else ".jsonl"
    assert (Path(export.path) / f"train{suffix}").is_file()

    run = trained(project, "sft", export)
    adapter = assert_adapter(run)
    meta = json.loads((adapter / "meta.json").read_text())
    assert meta["method"] == "sft" and run.step == 1


def test_alpaca_rows_train_on_the_answer_to_the_prompt_generation_sends():
    """Alpaca rows become (prompt, completion) with the served user turn as the prompt, so the
    loss is on the answer only; the held-out answers are scored (ROUGE-L) on the run page."""
    from training.engine.data import load_snapshot

    project = sft_project("sft-alpaca-rows")
    export = export_of(project, "alpaca")
    loaded = load_snapshot(export.path, "sft").splits["train"]
    assert set(loaded.column_names) == {"prompt", "completion"}
    raw = [json.loads(line) for line in (Path(export.path) / "train.jsonl").open()]
    assert [row["prompt"] for row in loaded] == [
        prompt_messages(row["instruction"], row["input"]) for row in raw
    ]
    assert any("\n\n" in user_content(row["instruction"], row["input"]) for row in raw)
    assert loaded[0]["completion"] == [{"role": "assistant", "content": raw[0]["output"]}]

    run = trained(project, "sft", export, eval=True, eval_max_samples=1, eval_max_new_tokens=4)
    assert_adapter(run)
    assert "eval_rouge_l" in run.metrics and "eval_loss" in run.metrics


def preference_project(slug: str):
    project = project_with_prompts(slug, kinds=["compare"], completions=2)
    assert work_the_queue(project, prefer_left) == len(TOPICS)
    return project


def test_compare_judgements_exported_as_preference_pairs_train_dpo():
    project = preference_project("dpo-path")
    export = export_of(project, "preference")

    assert_adapter(trained(project, "dpo", export))


def test_preference_pairs_train_orpo():
    project = preference_project("orpo-path")
    export = export_of(project, "preference")

    run = trained(project, "orpo", export)
    adapter = assert_adapter(run)
    assert json.loads((adapter / "meta.json").read_text())["method"] == "orpo"


# RLHF on the CPU: two completions a prompt, a few tokens each, one optimiser step.
RLHF_FAST = {"rlhf": {"num_generations": 2, "max_new_tokens": 8}}


def test_preference_pairs_train_a_reward_model_that_drives_an_rlhf_run():
    """The reward run's version scores completions, so it is never served; the admin picks
    it as the reward model of an RLHF run, whose policy is a servable adapter."""
    project = preference_project("reward-path")
    export = export_of(project, "preference")

    reward_run = trained(project, "reward", export)
    assert_adapter(reward_run)
    scorer = reward_run.result_version
    assert read_meta_of(scorer)["task"] == "reward_model"
    with pytest.raises(PublishError) as refused:
        model_version_publish(version=scorer)
    assert refused.value.code == RefusalCode.NOT_SERVABLE
    scorer.refresh_from_db()
    assert scorer.status == ModelVersion.Status.CANDIDATE

    # "Start training run…" offers the reward versions, and only them, as the reward model.
    offered = TrainingRunStartForm(project=project).fields["reward_version"].queryset
    assert list(offered) == [scorer]

    run = trained(project, "rlhf", export, reward_version=scorer, **RLHF_FAST)
    adapter = assert_adapter(run)
    meta = json.loads((adapter / "meta.json").read_text())
    assert meta["task"] == "causal_lm"
    assert meta["reward_model"] == str(Path(scorer.adapter_path).resolve())
    assert not (adapter / "reward_model").exists()  # the chosen one, not one trained here
    assert {event["phase"] for event in run.history} == {"policy"}
    assert run.result_version.parent == project.model_versions.get(number=0)


def read_meta_of(version: ModelVersion) -> dict:
    return json.loads((Path(version.adapter_path) / "meta.json").read_text())


def test_a_reward_version_that_is_no_reward_model_or_for_another_method_is_refused():
    project = preference_project("reward-refused")
    export = export_of(project, "preference")
    base = project.model_versions.get(number=0)
    other = ProjectFactory(slug="elsewhere").model_versions.get(number=0)

    refusals = {}
    for method, version in (("rlhf", base), ("dpo", base), ("rlhf", other)):
        with pytest.raises(ValidationError) as refused:
            training_run_create(
                project=project,
                method=method,
                export=export,
                reward_version=version,
                overrides=ONE_STEP,
                enqueue=False,
            )
        refusals[method, version.project.slug] = refused.value.message_dict["reward_version"]
    assert "is not a reward model" in refusals["rlhf", project.slug][0]
    assert "Only an RLHF run takes a reward model" in refusals["dpo", project.slug][0]
    assert "of this project" in refusals["rlhf", "elsewhere"][0]

    # The API and `manage.py train` pass the choice to the same check.
    admin = UserFactory(username="reward-admin")
    membership_grant(project=project, user=admin, role=Role.ADMIN)
    api = APIClient()
    api.force_authenticate(admin)
    answer = api.post(
        reverse("api:training_runs", args=[project.slug]),
        {"method": "rlhf", "export": export.pk, "reward_version": 0, "overrides": ONE_STEP},
        format="json",
    )
    assert answer.status_code == 400
    assert "is not a reward model" in answer.json()["reward_version"][0]
    with pytest.raises(CommandError, match="is not a reward model"):
        call_command(
            "train",
            *("--project", project.slug, "--method", "rlhf", "--export", str(export.pk)),
            *("--reward-version", "0"),
        )
    assert not TrainingRun.objects.filter(project=project).exists()


def test_unequal_thumbs_train_kto_with_class_weights_set_from_the_counts():
    project = project_with_prompts("kto-path", kinds=["rate"], completions=3)
    assert work_the_queue(project, thumbs_two_up_one_down) == len(TOPICS)
    export = export_of(project, "kto")
    labels = [json.loads(line)["label"] for line in (Path(export.path) / "train.jsonl").open()]
    desirable, undesirable = labels.count(True), labels.count(False)
    assert desirable == 2 * undesirable  # imbalanced: the old engine refused this export

    run = trained(project, "kto", export)
    adapter = assert_adapter(run)
    weights = run.metrics["kto_desirable_weight"], run.metrics["kto_undesirable_weight"]
    assert (run.metrics["kto_desirable_rows"], run.metrics["kto_undesirable_rows"]) == (
        desirable,
        undesirable,
    )
    ratio = weights[0] * desirable / (weights[1] * undesirable)
    assert 1.0 <= ratio <= 4 / 3  # TRL's guidance for the weighted counts
    assert weights[1] > 1.0  # the rarer (undesirable) label is weighted up
    config = json.loads((adapter / "meta.json").read_text())["config"]
    assert (config["kto"]["desirable_weight"], config["kto"]["undesirable_weight"]) == weights


def test_kto_weights_the_admin_sets_are_kept():
    project = project_with_prompts("kto-set", kinds=["rate"], completions=3)
    work_the_queue(project, thumbs_two_up_one_down)
    export = export_of(project, "kto")

    run = trained(project, "kto", export, kto={"undesirable_weight": 1.6})
    assert_adapter(run)
    weights = run.metrics["kto_desirable_weight"], run.metrics["kto_undesirable_weight"]
    assert weights == (1.0, 1.6)  # as set, not as the counts would set them
