"""The comparison with the parent version that the publish gate reads: the pure verdict on
hand-written numbers, then the engine scoring a parent adapter beside the new one."""

import json
import math

import pytest
import torch
from safetensors import safe_open

from tests.training.engine import snapshots as S
from tests.training.engine.test_methods import FAST
from training.engine import load_config, train
from training.engine.evaluation import label_agreement, preference_vs_parent
from training.engine.gate import NO_COMPARISON, better_than_parent

# --- pure -------------------------------------------------------------------------------------


def test_preference_vs_parent_is_the_change_of_chosen_over_rejected():
    # pair 1: the new model raised chosen by 1 and lowered rejected by 1 (+2);
    # pair 2: it lowered chosen by 1 (-1); pair 3: nothing changed (a tie counts half)
    figures = preference_vs_parent(
        policy_chosen=torch.tensor([-9.0, -11.0, -5.0]),
        policy_rejected=torch.tensor([-13.0, -12.0, -6.0]),
        parent_chosen=torch.tensor([-10.0, -10.0, -5.0]),
        parent_rejected=torch.tensor([-12.0, -12.0, -6.0]),
    )
    assert figures["eval_vs_parent_accuracy"] == pytest.approx(0.5)  # (1 + 0 + 0.5) / 3
    assert figures["eval_vs_parent_margin"] == pytest.approx((2.0 - 1.0 + 0.0) / 3)


def test_label_agreement_counts_an_unchanged_reward_half():
    labels = torch.tensor([True, False, True, False])
    assert label_agreement(torch.tensor([0.5, -0.1, -0.2, 0.0]), labels) == pytest.approx(
        (1 + 1 + 0 + 0.5) / 4
    )
    assert label_agreement(torch.zeros(4), labels) == 0.5  # the parent against itself
    assert math.isnan(label_agreement(torch.zeros(0), torch.zeros(0)))


@pytest.mark.parametrize(
    ("method", "metrics", "better", "new", "parent"),
    [
        ("sft", {"eval_loss": 1.2, "eval_parent_loss": 1.5}, True, 1.2, 1.5),
        ("cpt", {"eval_loss": 2.0, "eval_parent_loss": 2.0}, False, 2.0, 2.0),  # not lower
        ("cpt", {"eval_loss": 2.5, "eval_parent_loss": 2.0}, False, 2.5, 2.0),
        ("dpo", {"eval_vs_parent_accuracy": 0.75, "eval_vs_parent_margin": 0.4}, True, 0.75, 0.5),
        ("dpo", {"eval_vs_parent_accuracy": 0.5, "eval_vs_parent_margin": 0.0}, False, 0.5, 0.5),
        # most pairs moved the right way, but by less than the few that moved the wrong way
        (
            "orpo",
            {"eval_vs_parent_accuracy": 0.75, "eval_vs_parent_margin": -0.2},
            False,
            0.75,
            0.5,
        ),
        ("kto", {"eval_vs_parent_label_accuracy": 0.625}, True, 0.625, 0.5),
        ("kto", {"eval_vs_parent_label_accuracy": 0.5}, False, 0.5, 0.5),
        (
            "rlhf",
            {"eval_win_rate": 0.9, "eval_vs_parent_accuracy": 0.25, "eval_vs_parent_margin": -1.0},
            False,
            0.25,
            0.5,
        ),  # human pairs come first
        ("rlhf", {"eval_win_rate": 0.625}, True, 0.625, 0.5),  # prompts only: the reward model
    ],
)
def test_the_verdict_on_hand_written_figures(method, metrics, better, new, parent):
    verdict = better_than_parent(method, metrics)
    assert (verdict.better, verdict.new, verdict.parent) == (better, new, parent)
    assert verdict.label == ("better" if better else "not better")


def test_a_verdict_explains_itself():
    verdict = better_than_parent(
        "dpo", {"eval_vs_parent_accuracy": 0.25, "eval_vs_parent_margin": -0.5, "eval_pairs": 4.0}
    )
    assert "25% of 4 held-out pairs" in verdict.reason and "-0.5" in verdict.reason
    loss = better_than_parent("sft", {"eval_loss": 1.25, "eval_parent_loss": 1.5})
    assert "1.25 vs the parent's 1.5" in loss.reason
    assert loss.to_dict()["verdict"] == "better"


@pytest.mark.parametrize(
    "metrics",
    [{}, {"loss": 0.3}, {"eval_loss": 1.0}, {"eval_loss": 1.0, "eval_parent_loss": float("nan")}],
)
def test_without_a_held_out_comparison_the_gate_cannot_decide(metrics):
    for method in ("sft", "dpo", "kto", "orpo", "rlhf", "cpt"):
        verdict = better_than_parent(method, metrics)
        assert verdict.better is None and verdict.label == "undecided"
        assert verdict.reason == str(NO_COMPARISON)


def test_a_reward_model_is_never_better():
    verdict = better_than_parent("reward", {"eval_preference_accuracy": 1.0, "eval_margin": 3.0})
    assert verdict.better is None and verdict.label == "not applicable"
    assert not verdict.applicable


# --- the engine against a parent adapter ---------------------------------------------------------


def reversed_pairs(rows):
    return [{**row, "chosen": row["rejected"], "rejected": row["chosen"]} for row in rows]


@pytest.fixture(scope="module")
def dpo_parent(tmp_path_factory, tiny_model_dir):
    """A DPO adapter on the tiny model (the parent version), and the snapshot it learnt."""
    root = tmp_path_factory.mktemp("parent")
    data = S.write_snapshot(
        root / "snapshot", S.preference_rows(16), S.preference_rows(4, offset=16)
    )
    config = load_config(
        None,
        "dpo",
        {**FAST, "base_model": str(tiny_model_dir), "output_dir": str(root / "v1"), "max_steps": 6},
    )
    result = train(config, data)
    return root / "v1", data, result.metrics


def train_from_parent(method, data, out, tiny_model_dir, parent, **overrides):
    config = load_config(
        None,
        method,
        {
            **FAST,
            "base_model": str(tiny_model_dir),
            "output_dir": str(out),
            "parent_adapter": str(parent),
            **overrides,
        },
    )
    return train(config, data)


def test_retraining_the_parent_is_not_better_than_it(dpo_parent, tmp_path, tiny_model_dir):
    parent, data, parent_metrics = dpo_parent
    assert better_than_parent("dpo", parent_metrics).better  # v1 beat the base model

    out = tmp_path / "v2"
    result = train_from_parent(
        "dpo", data, out, tiny_model_dir, parent, max_steps=6, init_from_parent=False
    )

    # A fresh adapter on the base with the same data, seed and steps: the same adapter as its
    # parent. Against the base it still looks
    # good; against the parent (loaded beside it) it changed nothing, so it is not better.
    assert result.metrics["eval_preference_accuracy"] == 1.0
    assert result.metrics["eval_vs_parent_accuracy"] == pytest.approx(0.5)
    assert result.metrics["eval_vs_parent_margin"] == pytest.approx(0.0, abs=1e-4)
    assert better_than_parent("dpo", result.metrics).better is False
    meta = json.loads((out / "meta.json").read_text())
    assert meta["metrics"]["eval_vs_parent_accuracy"] == pytest.approx(0.5)
    # the parent's adapter was only borrowed: the published adapter is the new one alone
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == []
    with safe_open(str(out / "adapter_model.safetensors"), "pt") as weights:
        assert weights.keys() and not [k for k in weights.keys() if "parent" in k]  # noqa: SIM118


def test_a_model_trained_the_other_way_is_worse_than_its_parent(
    dpo_parent, tmp_path, tiny_model_dir
):
    parent, _, _ = dpo_parent
    flipped = S.write_snapshot(
        tmp_path / "flipped",
        reversed_pairs(S.preference_rows(16)),
        S.preference_rows(4, offset=16),  # held out: the annotators' real preference
    )
    result = train_from_parent(
        "orpo", flipped, tmp_path / "v2", tiny_model_dir, parent, max_steps=6
    )
    assert result.metrics["eval_vs_parent_accuracy"] < 0.5
    assert result.metrics["eval_vs_parent_margin"] < 0
    # the parent had already moved towards chosen, so the new one is further behind it than
    # behind the base model
    vs_base = result.metrics["eval_margin"] / 0.1  # ORPO's beta: log-odds units again
    assert result.metrics["eval_vs_parent_margin"] < vs_base
    assert better_than_parent("orpo", result.metrics).better is False


def test_full_fine_tuning_scores_the_parent_adapter_on_the_same_rows(
    dpo_parent, tmp_path, tiny_model_dir
):
    parent, _, _ = dpo_parent
    data = S.write_snapshot(
        tmp_path / "sft", S.sft_rows(16), S.sft_rows(4, offset=16), fmt="messages"
    )
    result = train_from_parent(
        "sft", data, tmp_path / "v2", tiny_model_dir, parent, lora=False, max_steps=4
    )
    loss, parent_loss = result.metrics["eval_loss"], result.metrics["eval_parent_loss"]
    assert loss < parent_loss  # 4 steps at lr 5e-3 on these answers beat base + DPO adapter
    verdict = better_than_parent("sft", result.metrics)
    assert (verdict.better, verdict.new, verdict.parent) == (True, loss, parent_loss)

    # the parent's weights were only lent to the trainer's model: the trained ones are published
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)), str(parent)
    ).merge_and_unload()
    name = "model.layers.0.self_attn.q_proj.weight"
    with safe_open(str(tmp_path / "v2" / "model.safetensors"), "pt") as weights:
        published = weights.get_tensor(name)
    assert not torch.allclose(published, merged.state_dict()[name].to(published.dtype))
