"""Runs build on their parent: an SFT run teaches the bundled model a marker word, and a DPO
run started from that SFT adapter keeps saying it (its adapter starts as the SFT's, its
reference is the SFT model), while the same DPO run started from the base model does not."""

from __future__ import annotations

import json

import pytest

from tests.training.engine import snapshots as S
from tests.training.engine.conftest import _wait_for_tokenizer
from training.engine import ConfigError, load_config, train
from training.engine.config import validate

MARKER = "Pineapple"
FAST = {"batch_size": 4, "max_length": 96, "logging_steps": 1, "eval": False}


def marked_rows(n: int, offset: int = 0) -> list[dict]:
    """Demonstrations whose every answer starts with the marker word."""
    return [
        {"messages": S.user(f"About {t}?") + S.assistant(f"{MARKER}! {t.capitalize()} are fine.")}
        for t in S.TOPICS[offset : offset + n]
    ]


def engine_config(method: str, model_dir, out, **overrides):
    return load_config(
        None,
        method,
        {**FAST, "base_model": str(model_dir), "output_dir": str(out), **overrides},
    )


@pytest.fixture(scope="module")
def bundled():
    return _wait_for_tokenizer()


@pytest.fixture(scope="module")
def sft_adapter(bundled, tmp_path_factory):
    """The parent: an SFT adapter that starts every answer with the marker (a few fast steps)."""
    root = tmp_path_factory.mktemp("chain")
    data = S.write_snapshot(root / "sft-data", marked_rows(8), fmt="messages")
    config = engine_config(
        "sft", bundled, root / "sft", learning_rate=5e-3, lr_scheduler_type="constant", max_steps=6
    )
    return train(config, data).output_dir


@pytest.fixture(scope="module")
def dpo_runs(bundled, sft_adapter, tmp_path_factory):
    """The same DPO run (pairs that never mention the marker) continued from the SFT adapter
    and started from the base model; both name the SFT version as their parent."""
    root = tmp_path_factory.mktemp("dpo")
    data = S.write_snapshot(root / "pairs", S.preference_rows(8, offset=8))
    runs = {}
    for name, init in (("continued", True), ("from_base", False)):
        config = engine_config(
            "dpo",
            bundled,
            root / name,
            parent_adapter=sft_adapter,
            init_from_parent=init,
            max_steps=2,
        )
        runs[name] = train(config, data)
    return runs


def greedy(bundled, adapters: dict[str, str], prompts: list) -> dict[str, list[str]]:
    """Each adapter's greedy answers, on one copy of the base model."""
    from peft import PeftModel

    from training.engine import evaluation, recipe

    tokenizer = recipe.load_tokenizer(bundled)
    (first, first_dir), *rest = adapters.items()
    model = PeftModel.from_pretrained(recipe.load_causal_lm(bundled), first_dir, first)
    for name, directory in rest:
        model.load_adapter(directory, adapter_name=name)
    answers = {}
    for name in adapters:
        model.set_adapter(name)
        answers[name] = evaluation.greedy_completions(model, tokenizer, prompts, max_new_tokens=12)
    return answers


def test_dpo_from_the_sft_version_keeps_what_sft_taught(bundled, sft_adapter, dpo_runs):
    prompts = [S.user(f"About {t}?") for t in ("glass", "comets")]  # not in either split
    answers = greedy(
        bundled,
        {
            "sft": sft_adapter,
            "continued": dpo_runs["continued"].output_dir,
            "from_base": dpo_runs["from_base"].output_dir,
        },
        prompts,
    )
    assert all(MARKER in a for a in answers["sft"]), answers
    assert all(MARKER in a for a in answers["continued"]), answers
    assert not any(MARKER in a for a in answers["from_base"]), answers


def test_the_continued_run_scored_against_its_parent(dpo_runs):
    """Policy and reference are the same SFT model at the first step, so the implicit rewards
    start at zero; a base-model reference would score the SFT model's shift from the base."""
    first = next(r for r in dpo_runs["continued"].history if "rewards/chosen" in r)
    assert first["rewards/chosen"] == pytest.approx(0.0, abs=1e-3)
    assert first["rewards/rejected"] == pytest.approx(0.0, abs=1e-3)


def test_meta_says_what_each_run_started_from(sft_adapter, dpo_runs, tmp_path):
    from pathlib import Path

    continued = Path(dpo_runs["continued"].output_dir)
    meta = json.loads((continued / "meta.json").read_text())
    assert meta["started_from"]["init"] == "parent_adapter"
    assert meta["started_from"]["parent_adapter"] == str(Path(sft_adapter).resolve())
    assert meta["started_from"]["reference"] == "parent"
    # still one LoRA on the base, same shape as the parent: no "ref" copy published with it
    assert not (continued / "ref").exists()
    shape = json.loads((continued / "adapter_config.json").read_text())
    assert shape["r"] == json.loads((Path(sft_adapter) / "adapter_config.json").read_text())["r"]
    from_base = json.loads((Path(dpo_runs["from_base"].output_dir) / "meta.json").read_text())
    assert from_base["started_from"]["init"] == "base_model"
    assert from_base["started_from"]["reference"] == "base_model"


def test_a_different_rank_than_the_parent_is_refused(bundled, sft_adapter, tmp_path):
    config = engine_config("dpo", bundled, tmp_path / "out", parent_adapter=sft_adapter, lora_r=16)
    with pytest.raises(ConfigError, match="lora_r is 16 but the parent's adapter has 8"):
        validate(config)
    validate(
        engine_config(
            "dpo",
            bundled,
            tmp_path / "out",
            parent_adapter=sft_adapter,
            lora_r=16,
            init_from_parent=False,
        )
    )
