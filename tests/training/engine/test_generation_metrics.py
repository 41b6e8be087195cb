"""Held-out generation metrics: the new model and its parent answer the same held-out prompts,
ROUGE-L and BLEU score both, the run page shows them side by side, and the publish gate can
decide by them (`gate_metric`), refused at the click where generation is off."""

from __future__ import annotations

import math

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import ProjectFactory, UserFactory
from tests.training.engine import snapshots as S
from tests.training.engine.conftest import _wait_for_tokenizer
from training.engine import ConfigError, load_config, train, validate
from training.engine.evaluation import (
    document_references,
    overlap_metrics,
    rouge_l,
    sft_references,
)
from training.engine.gate import NO_GENERATIONS, better_than_parent

# --- pure figures ---------------------------------------------------------------------------------


def test_overlap_metrics_score_new_and_parent_answers_under_their_own_names():
    refs = ["Sure! Owls are lovely.", "Sure! Tea are lovely."]
    new = overlap_metrics(refs, refs)
    parent = overlap_metrics(
        ["Pineapple! Owls are fine.", "no. zzz tea"], refs, prefix="eval_parent"
    )
    assert new == {"eval_rouge_l": pytest.approx(1.0), "eval_bleu": pytest.approx(100.0)}
    assert set(parent) == {"eval_parent_rouge_l", "eval_parent_bleu"}
    # "owls are": 2 of 4 words each way (F 0.5); "tea": 1 of 3 and 1 of 4 (F 2/7)
    assert parent["eval_parent_rouge_l"] == pytest.approx((0.5 + 2 / 7) / 2)
    assert 0.0 < parent["eval_parent_bleu"] < new["eval_bleu"]


def test_prompt_completion_rows_give_references_and_plain_text_none():
    from datasets import Dataset

    rows = Dataset.from_list(
        [{"prompt": S.user("About tea?"), "completion": S.assistant("Sure! Tea are lovely.")}]
    )
    assert sft_references(rows) == ([S.user("About tea?")], ["Sure! Tea are lovely."])
    assert sft_references(Dataset.from_list([{"text": "### Instruction: hi"}])) == ([], [])


@pytest.fixture(scope="module")
def bundled():
    return _wait_for_tokenizer()


def test_a_document_gives_its_opening_as_prompt_and_what_follows_as_reference(bundled):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(bundled))
    text = "Copper conducts heat well. " * 20
    refs = document_references([text, "Too short."], tokenizer, continuation_tokens=6)
    assert len(refs) == 1  # the short one gives neither an opening nor a continuation
    prompt, reference = refs.prompts[0], refs.references[0]
    assert isinstance(prompt, str) and text.startswith(prompt)  # plain text: no chat template
    assert len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) == 32
    # the next 6 tokens, whitespace stripped: the words that follow the opening
    assert text[len(prompt) :].strip().startswith(reference) and 0 < len(reference.split()) <= 6


# --- the gate by ROUGE-L / BLEU ------------------------------------------------------------------

# The new model's loss is lower, but its answers overlap the references less than the parent's.
LOWER_LOSS_WORSE_ANSWERS = {
    "eval_loss": 1.1,
    "eval_parent_loss": 1.4,
    "eval_rouge_l": 0.31,
    "eval_parent_rouge_l": 0.42,
    "eval_bleu": 12.0,
    "eval_parent_bleu": 9.5,
    "eval_generations": 8.0,
}


@pytest.mark.parametrize(
    ("method", "gate_metric", "better", "metric", "new", "parent"),
    [
        ("sft", "loss", True, "eval_loss", 1.1, 1.4),
        ("sft", "rouge_l", False, "eval_rouge_l", 0.31, 0.42),
        ("sft", "bleu", True, "eval_bleu", 12.0, 9.5),
        ("cpt", "rouge_l", False, "eval_rouge_l", 0.31, 0.42),
    ],
)
def test_the_gate_decides_by_the_chosen_measure(method, gate_metric, better, metric, new, parent):
    verdict = better_than_parent(method, LOWER_LOSS_WORSE_ANSWERS, gate_metric=gate_metric)
    assert (verdict.better, verdict.metric, verdict.new, verdict.parent) == (
        better,
        metric,
        new,
        parent,
    )


def test_the_overlap_gate_says_why_and_a_tie_is_not_better():
    verdict = better_than_parent(
        "sft",
        {"eval_rouge_l": 0.5, "eval_parent_rouge_l": 0.5, "eval_generations": 8.0},
        gate_metric="rouge_l",
    )
    assert verdict.better is False
    assert "ROUGE-L of greedy answers 0.5 vs the parent's 0.5 on the same 8 held-out" in (
        verdict.reason
    )
    assert "higher is better" in verdict.reason
    for metrics in ({"eval_loss": 1.0, "eval_parent_loss": 2.0}, {"eval_bleu": float("nan")}):
        undecided = better_than_parent("sft", metrics, gate_metric="bleu")
        assert undecided.better is None and undecided.reason == str(NO_GENERATIONS)


@pytest.mark.parametrize(
    ("method", "overrides", "message"),
    [
        ("sft", {"gate_metric": "bleu", "eval_generation_rows": 0}, "eval_generation_rows is 0"),
        ("sft", {"gate_metric": "rouge_l", "eval": False}, "held-out generation is off"),
        ("dpo", {"gate_metric": "rouge_l"}, "applies to sft and cpt only"),
        ("sft", {"gate_metric": "meteor"}, "not one of loss, rouge_l, bleu"),
    ],
)
def test_a_gate_measure_the_run_cannot_give_is_refused(method, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(load_config(None, method, overrides))
    validate(load_config(None, "cpt", {"gate_metric": "bleu"}))  # on by default for cpt too


# --- the engine on the bundled model, against a parent adapter --------------------------------

MARKER = "Pineapple"
BUNDLED_FAST = {
    "batch_size": 4,
    "max_length": 96,
    "logging_steps": 1,
    "learning_rate": 5e-3,
    "lr_scheduler_type": "constant",
    "max_steps": 6,
}


def marked_rows(n: int) -> list[dict]:
    """The parent's demonstrations: every answer opens with the marker, in another style."""
    return [
        {"messages": S.user(f"About {t}?") + S.assistant(f"{MARKER}! {t.capitalize()} are fine.")}
        for t in S.TOPICS[:n]
    ]


@pytest.fixture(scope="module")
def parent_adapter(bundled, tmp_path_factory):
    root = tmp_path_factory.mktemp("generation-parent")
    data = S.write_snapshot(root / "data", marked_rows(8), fmt="messages")
    config = load_config(
        None,
        "sft",
        {**BUNDLED_FAST, "eval": False, "base_model": str(bundled), "output_dir": str(root / "v1")},
    )
    return train(config, data).output_dir


@pytest.fixture(scope="module")
def continued(bundled, parent_adapter, tmp_path_factory):
    """An SFT run continued from the parent on answers of the snapshots' own style, with 3
    held-out prompts answered by both."""
    root = tmp_path_factory.mktemp("generation-new")
    data = S.write_snapshot(root / "data", S.sft_rows(16), S.sft_rows(4, offset=16), fmt="messages")
    config = load_config(
        None,
        "sft",
        {
            **BUNDLED_FAST,
            "base_model": str(bundled),
            "output_dir": str(root / "v2"),
            "parent_adapter": str(parent_adapter),
            "eval_generation_rows": 3,
            "eval_max_new_tokens": 12,
            "gate_metric": "rouge_l",
        },
    )
    return train(config, data), data


def greedy_rouge_l(bundled, adapter, data, n=3):
    """ROUGE-L of one adapter's greedy answers to the first n held-out prompts, scored apart."""
    from datasets import load_dataset
    from peft import PeftModel

    from training.engine import evaluation, recipe

    rows = load_dataset("json", data_files=str(data / "validation.jsonl"), split="train")
    prompts, references = sft_references(rows)
    model = PeftModel.from_pretrained(recipe.load_causal_lm(bundled), str(adapter))
    answers = evaluation.greedy_completions(
        model, recipe.load_tokenizer(bundled), prompts[:n], max_new_tokens=12
    )
    return rouge_l(answers, references[:n]), answers


def test_new_and_parent_are_scored_on_the_same_held_out_prompts(bundled, parent_adapter, continued):
    result, data = continued
    m = result.metrics
    assert m["eval_generations"] == 3.0
    for key in ("eval_rouge_l", "eval_parent_rouge_l", "eval_bleu", "eval_parent_bleu"):
        assert not math.isnan(m[key]), key
    # the figures are the parent adapter's and the published adapter's own answers to the
    # first 3 held-out prompts, not the base model's
    parent_score, parent_answers = greedy_rouge_l(bundled, parent_adapter, data)
    new_score, new_answers = greedy_rouge_l(bundled, result.output_dir, data)
    assert all(MARKER in answer for answer in parent_answers), parent_answers
    assert m["eval_parent_rouge_l"] == pytest.approx(parent_score)
    assert m["eval_rouge_l"] == pytest.approx(new_score)
    assert m["eval_rouge_l"] > m["eval_parent_rouge_l"], (new_answers, parent_answers)


def test_the_gate_reads_the_run_s_rouge_l(continued):
    result, _ = continued
    verdict = better_than_parent("sft", result.metrics, gate_metric="rouge_l")
    assert (verdict.better, verdict.metric) == (True, "eval_rouge_l")
    assert (verdict.new, verdict.parent) == (
        result.metrics["eval_rouge_l"],
        result.metrics["eval_parent_rouge_l"],
    )


def test_cpt_continues_held_out_documents_for_new_and_parent(tmp_path, tiny_model_dir):
    data = S.write_snapshot(tmp_path / "docs", S.cpt_rows(12), S.cpt_rows(3), fmt="documents")
    config = load_config(
        None,
        "cpt",
        {
            "base_model": str(tiny_model_dir),
            "output_dir": str(tmp_path / "v1"),
            "batch_size": 2,
            "max_steps": 1,
            "eval_generation_rows": 2,
            "eval_max_new_tokens": 6,
        },
    )
    m = train(config, data).metrics
    assert m["eval_generations"] == 2.0
    assert {"eval_rouge_l", "eval_parent_rouge_l", "eval_bleu", "eval_parent_bleu"} <= set(m)


# --- through the services: create, run, gate, run page ------------------------------------------

FAST = {
    "learning_rate": 5e-3,
    "batch_size": 2,
    "max_length": 128,
    "max_steps": 2,
    "eval_max_samples": 2,
    "eval_max_new_tokens": 4,
}


@pytest.fixture
def project(tiny_model_dir, settings, tmp_path):
    settings.MODELS_DIR = tmp_path / "models"
    project = ProjectFactory(slug="tiny-gen")
    project.model_versions.filter(number=0).update(base_model_path=str(tiny_model_dir))
    return project


@pytest.fixture
def sft_snapshot(tmp_path):
    return S.write_snapshot(
        tmp_path / "sft", S.sft_rows(8), S.sft_rows(2, offset=8), fmt="messages"
    )


def create(project, snapshot, method="sft", **overrides):
    from training.services.runs import training_run_create

    return training_run_create(
        project=project,
        method=method,
        snapshot_dir=snapshot,
        overrides={**FAST, **overrides},
        enqueue=False,
    )


@pytest.mark.django_db
def test_a_run_gated_on_rouge_l_shows_new_and_parent_side_by_side(project, sft_snapshot, client):
    from training.models import TrainingRun
    from training.services.runs import training_run_execute

    run = training_run_execute(run=create(project, sft_snapshot, gate_metric="rouge_l"))
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    m = run.metrics
    assert run.gate["metric"] == "eval_rouge_l"
    assert (run.gate["new"], run.gate["parent"]) == (m["eval_rouge_l"], m["eval_parent_rouge_l"])
    assert run.gate["verdict"] == (
        "better" if m["eval_rouge_l"] > m["eval_parent_rouge_l"] else "not better"
    )

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    html = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    table = html[html.index('id="parent-comparison"') :]
    table = table[: table.index("</table>")]
    assert f"new vs parent ({run.base_version.served_name})" in table
    for label, key in (("held-out loss", "loss"), ("ROUGE-L", "rouge_l"), ("BLEU", "bleu")):
        row = table[table.index(f">{label}</th>") :]
        row = row[: row.index("</tr>")]
        assert f"{m[f'eval_{key}']:.4f}" in row and f"{m[f'eval_parent_{key}']:.4f}" in row
        assert ("the publish gate's measure" in row) == (key == "rouge_l")


@pytest.mark.django_db
def test_a_bleu_gate_without_held_out_generation_is_refused_at_create(project, sft_snapshot):
    from training.models import TrainingRun

    with pytest.raises(ValidationError) as refused:
        create(project, sft_snapshot, gate_metric="bleu", eval_generation_rows=0)
    assert "held-out generation is off" in refused.value.message_dict["config"][0]
    with pytest.raises(ValidationError, match="applies to sft and cpt only"):
        create(
            project,
            S.write_snapshot(sft_snapshot.parent / "pairs", S.preference_rows(8)),
            method="dpo",
            gate_metric="rouge_l",
        )
    assert not TrainingRun.objects.exists()
