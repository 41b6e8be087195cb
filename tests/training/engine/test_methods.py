"""Each method trains a few steps on a tiny model and its loss moves the right way; the adapter
and meta.json are published; failures and cancellations publish nothing."""

import json
import math

import pytest

from tests.training.engine import snapshots as S
from training.engine import Cancelled, ConfigError, load_config, train
from training.engine.progress import ProgressEvent

FAST = {
    "learning_rate": 5e-3,
    "batch_size": 2,
    "max_length": 128,
    "logging_steps": 1,
    "eval_max_samples": 4,
    "eval_max_new_tokens": 8,
}


def make_snapshot(directory, method):
    """Conversational rows for SFT, DPO, reward and RLHF; TRL's plain-string format for ORPO
    and KTO, so both formats are exercised."""
    if method in ("dpo", "reward", "rlhf"):
        return S.write_snapshot(directory, S.preference_rows(16), S.preference_rows(4, offset=16))
    if method == "orpo":
        rows, held = S.preference_rows(16, plain=True), S.preference_rows(4, 16, plain=True)
        return S.write_snapshot(directory, rows, held)
    if method == "sft":
        return S.write_snapshot(directory, S.sft_rows(16), S.sft_rows(4, offset=16), fmt="messages")
    if method == "kto":
        rows, held = S.kto_rows(8, 8, plain=True), S.kto_rows(2, 2, 8, plain=True)
        return S.write_snapshot(directory, rows, held, fmt="kto")
    return S.write_snapshot(directory, S.cpt_rows(12), S.cpt_rows(3), fmt="text")


def run(method, tmp_path, tiny_model_dir, **overrides):
    data = make_snapshot(tmp_path / "snapshot", method)
    out = tmp_path / "models" / "v1"
    config = load_config(
        None,
        method,
        {**FAST, "base_model": str(tiny_model_dir), "output_dir": str(out), **overrides},
    )
    events: list[ProgressEvent] = []
    result = train(config, data, events.append)
    return result, events, out


def losses(result, phase=None):
    return [
        h["loss"] for h in result.history if "loss" in h and (phase is None or h["phase"] == phase)
    ]


def last(result, key, phase=None):
    return [h[key] for h in result.history if key in h and (phase is None or h["phase"] == phase)]


def assert_published(out, method, kind="adapter"):
    if kind == "adapter":
        assert (out / "adapter_config.json").is_file()
        assert (out / "adapter_model.safetensors").is_file()
    else:
        assert (out / "model.safetensors").is_file()
        assert (out / "tokenizer.json").is_file()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["kind"] == kind and meta["method"] == method
    assert len(meta["snapshot"]["manifest_sha256"]) == 64
    assert meta["metrics"]["last_loss"] == pytest.approx(meta["metrics"]["loss"])
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left
    return meta


def test_sft_loss_falls_and_adapter_is_published(tmp_path, tiny_model_dir):
    result, events, out = run("sft", tmp_path, tiny_model_dir, max_steps=6)
    steps = losses(result)
    assert steps[-1] < steps[0]
    assert {"eval_loss", "eval_rouge_l", "eval_bleu"} <= set(result.metrics)
    assert 0.0 <= result.metrics["eval_rouge_l"] <= 1.0
    assert result.metrics["eval_loss"] < result.metrics["eval_parent_loss"]  # the parent: base
    assert events[0].kind == "start"
    assert [e.step for e in events if e.kind == "log"] == [1, 2, 3, 4, 5, 6]
    assert events[-1].total_steps == 6
    assert result.steps == 6 and result.output_dir == str(out.resolve())
    assert_published(out, "sft")


def test_dpo_loss_drops_below_ln2_and_reward_accuracy_rises(tmp_path, tiny_model_dir):
    result, _, out = run("dpo", tmp_path, tiny_model_dir, max_steps=6)
    steps = losses(result)
    assert steps[0] == pytest.approx(math.log(2), abs=1e-3)
    assert steps[-1] < math.log(2) - 0.05
    accuracies = last(result, "rewards/accuracies")
    assert accuracies[-1] > accuracies[0]
    assert last(result, "rewards/margins")[-1] > 0
    assert result.metrics["eval_preference_accuracy"] > 0.5
    assert result.metrics["eval_margin"] > 0
    assert result.metrics["eval_vs_parent_accuracy"] > 0.5  # the parent: the base model
    assert result.metrics["eval_vs_parent_margin"] > 0
    meta = assert_published(out, "dpo")
    assert meta["config"]["dpo"]["loss_type"] == "sigmoid"


def test_kto_loss_falls(tmp_path, tiny_model_dir):
    result, _, out = run("kto", tmp_path, tiny_model_dir, max_steps=6)
    steps = losses(result)
    assert steps[-1] < steps[0]
    assert last(result, "rewards/margins")[-1] > 0
    assert "kl" in result.metrics
    assert result.metrics["eval_label_accuracy"] >= 0.5
    assert result.metrics["eval_vs_parent_label_accuracy"] > 0.5
    assert_published(out, "kto")


def test_orpo_loss_falls_and_prefers_chosen(tmp_path, tiny_model_dir):
    result, _, out = run("orpo", tmp_path, tiny_model_dir, max_steps=6)
    steps = losses(result)
    assert steps[-1] < steps[0]
    assert last(result, "rewards/margins")[-1] > last(result, "rewards/margins")[0]
    assert result.metrics["eval_preference_accuracy"] > 0.5
    assert result.metrics["eval_vs_parent_accuracy"] > 0.5
    assert_published(out, "orpo")


def test_reward_model_learns_the_preference(tmp_path, tiny_model_dir):
    result, _, out = run("reward", tmp_path, tiny_model_dir, max_steps=6)
    steps = losses(result)
    assert steps[-1] < min(steps[0], math.log(2))
    assert last(result, "accuracy")[-1] == 1.0
    assert result.metrics["eval_preference_accuracy"] > 0.5
    meta = assert_published(out, "reward")
    assert meta["task"] == "reward_model"


def test_cpt_loss_falls_on_chunked_documents(tmp_path, tiny_model_dir):
    result, _, out = run("cpt", tmp_path, tiny_model_dir, max_steps=6, **{"cpt.chunk_length": 64})
    steps = losses(result)
    assert steps[-1] < steps[0]
    assert result.metrics["chunk_length"] == 64
    assert result.metrics["duplicates_removed"] == 1 and result.metrics["empty_removed"] == 1
    assert "eval_perplexity" in result.metrics
    assert result.metrics["eval_loss"] < result.metrics["eval_parent_loss"]
    assert_published(out, "cpt")


@pytest.mark.slow
def test_rlhf_trains_a_reward_model_then_the_policy(tmp_path, tiny_model_dir):
    result, events, out = run(
        "rlhf",
        tmp_path,
        tiny_model_dir,
        max_steps=2,
        **{"rlhf.num_generations": 2, "rlhf.max_new_tokens": 8, "rlhf.reward_epochs": 1.0},
    )
    assert {e.phase for e in events} == {"reward", "policy"}
    policy_logs = [h for h in result.history if h["phase"] == "policy" and "loss" in h]
    assert len(policy_logs) == 2
    assert all("reward" in h and "kl" in h for h in policy_logs)
    assert result.steps == 2
    assert "reward/eval_preference_accuracy" in result.metrics
    assert 0.0 <= result.metrics["eval_win_rate"] <= 1.0
    assert 0.0 <= result.metrics["eval_vs_parent_accuracy"] <= 1.0  # on the held-out pairs
    assert_published(out, "rlhf")
    assert (out / "reward_model" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "reward_model" / "meta.json").read_text())["task"] == "reward_model"


def test_full_fine_tuning_publishes_full_weights(tmp_path, tiny_model_dir):
    result, _, out = run("sft", tmp_path, tiny_model_dir, max_steps=2, lora=False, eval=False)
    assert result.steps == 2
    assert_published(out, "sft", kind="full")


def test_exception_mid_training_leaves_no_output(tmp_path, tiny_model_dir):
    def explode(event):
        if event.step == 2:
            raise RuntimeError("worker lost")

    data = make_snapshot(tmp_path / "snapshot", "reward")
    out = tmp_path / "models" / "v1"
    config = load_config(
        None, "reward", {**FAST, "base_model": str(tiny_model_dir), "output_dir": str(out)}
    )
    with pytest.raises(RuntimeError, match="worker lost"):
        train(config, data, explode)
    assert list((tmp_path / "models").iterdir()) == []


def test_cancelled_run_publishes_nothing(tmp_path, tiny_model_dir):
    data = make_snapshot(tmp_path / "snapshot", "reward")
    out = tmp_path / "models" / "v1"
    config = load_config(
        None,
        "reward",
        {**FAST, "base_model": str(tiny_model_dir), "output_dir": str(out), "max_steps": 50},
    )
    seen: list[int] = []

    def progress(event):
        seen.append(event.step)
        return Cancelled if event.step >= 2 else None

    with pytest.raises(Cancelled, match="cancelled at step 2 of 50"):
        train(config, data, progress)
    assert max(seen) == 2
    assert list((tmp_path / "models").iterdir()) == []


def test_bad_data_fails_before_training(tmp_path, tiny_model_dir):
    data = S.write_snapshot(tmp_path / "snapshot", S.kto_rows(12, 0), fmt="kto")
    config = load_config(
        None,
        "kto",
        {**FAST, "base_model": str(tiny_model_dir), "output_dir": str(tmp_path / "v1")},
    )
    with pytest.raises(ConfigError, match="KTO needs both desirable and undesirable"):
        train(config, data)
    assert not (tmp_path / "v1").exists()


@pytest.mark.slow
def test_rlhf_with_a_given_reward_adapter_and_grpo_needs_only_prompts(tmp_path, tiny_model_dir):
    _, _, reward_dir = run("reward", tmp_path / "r", tiny_model_dir, max_steps=4)
    prompts_only = tmp_path / "prompts"
    rows = [{"prompt": r["prompt"], "prompt_id": r["prompt_id"]} for r in S.preference_rows(8)]
    S.write_snapshot(prompts_only, rows, [{"prompt": S.user("About moss?")}], fmt="prompts")
    out = tmp_path / "models" / "v2"
    config = load_config(
        None,
        "rlhf",
        {
            **FAST,
            "base_model": str(tiny_model_dir),
            "output_dir": str(out),
            "max_steps": 2,
            "rlhf.reward_model": str(reward_dir),
            "rlhf.algorithm": "grpo",
            "rlhf.num_generations": 2,
            "rlhf.max_new_tokens": 8,
        },
    )
    result = train(config, prompts_only)
    assert {h["phase"] for h in result.history} == {"policy"}  # no reward training
    assert all("reward" in h for h in result.history if "loss" in h)
    assert "eval_win_rate" in result.metrics
    meta = assert_published(out, "rlhf")
    assert meta["reward_model"] == str(reward_dir)
    assert not (out / "reward_model").exists()
