"""`python -m bench train`: DPO samples per second of our engine vs TRL's DPOTrainer defaults.

Measured: `training.engine.dpo.train` with the `dpo` preset as the app runs it: LoRA (r 8 on
the attention projections), no gradient checkpointing, reference log-probs computed once before
training, batches bucketed by length, the preset's learning rate and batch size, 2 epochs; on a
snapshot directory written the way the export writes one.
Baseline: TRL's `DPOTrainer` with `DPOConfig` defaults (full fine-tuning with a frozen reference
copy, gradient checkpointing on, lr 1e-6, max_length 1024) except what cannot be left out:
output_dir, use_cpu, report_to none, the same batch size and the same number of steps.

Samples per second = preference pairs trained / seconds from the DPOTrainer's construction
(tokenization and any reference log-prob precompute happen there) to the end of `train()`.
Model loading, held-out evaluation and publishing are outside both clocks. Both are then scored
the same way: implicit-reward accuracy on a held-out split (evaluation.policy_preference_metrics,
beta 0.1, reference = the untrained model).

The model is the bundled SmolLM2-135M-Instruct, the one the vLLM server serves and the loop
trains. The data are synthetic pairs with a learnable signal and uneven lengths: chosen answers
are helpful, one to six sentences long, rejected ones curt, over varied topics. `--quick` uses
fewer pairs and steps.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "var" / "models" / "SmolLM2-135M-Instruct"
GOAL_RATIO = 1.5

TOPICS = [
    "bread",
    "rivers",
    "prime numbers",
    "bicycles",
    "tea",
    "volcanoes",
    "chess",
    "gardening",
    "the moon",
    "Python lists",
    "photosynthesis",
    "jazz",
    "saving money",
    "running shoes",
    "the water cycle",
    "owls",
    "recycling",
    "maps",
    "sleep",
    "bridges",
    "coffee",
    "rainbows",
    "tides",
    "honey bees",
    "email etiquette",
    "sushi",
    "glaciers",
    "kites",
    "batteries",
    "yoga",
    "lighthouses",
    "compost",
    "violins",
    "deserts",
    "calendars",
    "museums",
]
ASKS = [
    "Tell me something about {t}.",
    "Can you explain {t} briefly?",
    "What should a beginner know about {t}?",
    "Give me a quick fact about {t}.",
]
CHOSEN_OPENERS = [
    "Certainly! Here is a clear answer about {t}.",
    "Of course! {T} is worth learning about.",
    "Happy to help with {t}.",
]
CHOSEN_SENTENCES = [
    "It is a fascinating subject with a long history.",
    "The key idea is simple once you see an example.",
    "Many people find it easier after a little practice.",
    "A good first step is to read a short introduction.",
    "Experts still disagree about some of the details.",
    "You can learn a lot by asking someone who knows it well.",
]
REJECTED = [
    "No. Look it up yourself.",
    "Whatever, {t} is boring.",
    "I will not answer that.",
    "Why would anyone care about {t}? Ask somebody else, I have better things to do.",
]


def make_pairs(count: int, seed: int) -> list[dict[str, Any]]:
    """Helpful answers of one to six sentences (chosen) against curt ones (rejected)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        topic = rng.choice(TOPICS)
        fill = {"t": topic, "T": topic[0].upper() + topic[1:]}
        body = rng.sample(CHOSEN_SENTENCES, rng.randint(1, len(CHOSEN_SENTENCES)))
        chosen = " ".join([rng.choice(CHOSEN_OPENERS), *body, "I hope this helps."])
        rows.append(
            {
                "prompt": [{"role": "user", "content": rng.choice(ASKS).format(**fill)}],
                "chosen": [{"role": "assistant", "content": chosen.format(**fill)}],
                "rejected": [{"role": "assistant", "content": rng.choice(REJECTED).format(**fill)}],
            }
        )
    return rows


def write_snapshot(directory: Path, train: list[dict], validation: list[dict]) -> Path:
    directory.mkdir(parents=True)
    for name, rows in (("train", train), ("validation", validation)):
        with open(directory / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
    rows = {"train": len(train), "validation": len(validation)}
    manifest = {"format": "preference", "rows": rows}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def _timed_trainer_class(base: type, clock: dict[str, float]) -> type:
    """DPOTrainer that records construction start and train() end (the measured span)."""

    class Timed(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            clock["start"] = time.perf_counter()
            super().__init__(*args, **kwargs)
            clock["built"] = time.perf_counter()

        def train(self, *args: Any, **kwargs: Any) -> Any:
            output = super().train(*args, **kwargs)
            clock["end"] = time.perf_counter()
            clock["steps"] = self.state.global_step
            return output

    return Timed


def run_engine(model_dir: Path, data_dir: Path, out_dir: Path, max_steps: int) -> dict[str, Any]:
    """Our engine, end to end (dpo.train), with the DPOTrainer it builds timed."""
    from training.engine import dpo
    from training.engine.config import apply_overrides, preset

    config = apply_overrides(
        preset("dpo"),
        {"base_model": str(model_dir), "output_dir": str(out_dir), "max_steps": max_steps},
    )
    clock: dict[str, float] = {}
    original = dpo.DPOTrainer
    dpo.DPOTrainer = _timed_trainer_class(original, clock)
    try:
        result = dpo.train(config, data_dir)
    finally:
        dpo.DPOTrainer = original
    return {
        "seconds": clock["end"] - clock["start"],
        "setup_seconds": clock["built"] - clock["start"],
        "steps": int(clock["steps"]),
        "batch_size": config.batch_size,
        "accuracy": result.metrics.get("eval_preference_accuracy"),
        "margin": result.metrics.get("eval_margin"),
        "last_loss": result.metrics.get("last_loss"),
        "config": {
            "learning_rate": config.learning_rate,
            "lora_r": config.lora_r,
            "lora_target_modules": config.lora_target_modules,
            "gradient_checkpointing": config.gradient_checkpointing,
            "precompute_ref_log_probs": config.dpo.precompute_ref_log_probs,
            "bucket_by_length": config.bucket_by_length,
            "max_length": config.max_length,
            "beta": config.dpo.beta,
        },
    }


def run_trl_default(
    model_dir: Path,
    train_rows: list[dict],
    eval_rows: list[dict],
    work: Path,
    *,
    batch: int,
    max_steps: int,
) -> dict[str, Any]:
    """TRL DPOTrainer, DPOConfig defaults but for the unavoidable settings."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from training.engine import evaluation

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    args = DPOConfig(
        output_dir=str(work / "trl-out"),
        use_cpu=True,
        report_to="none",
        max_steps=max_steps,
        per_device_train_batch_size=batch,
        save_strategy="no",  # no checkpoint files in the temp dir (does not change training)
        disable_tqdm=True,
    )
    clock: dict[str, float] = {}
    trainer = _timed_trainer_class(DPOTrainer, clock)(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        processing_class=tokenizer,
    )
    trainer.train()
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    reference = AutoModelForCausalLM.from_pretrained(str(model_dir))
    metrics = evaluation.policy_preference_metrics(
        trainer.model,
        tokenizer,
        Dataset.from_list(eval_rows),
        0.1,
        ref_model=reference,
        max_length=args.max_length or 1024,
    )
    return {
        "seconds": clock["end"] - clock["start"],
        "setup_seconds": clock["built"] - clock["start"],
        "steps": int(clock["steps"]),
        "batch_size": batch,
        "accuracy": metrics["eval_preference_accuracy"],
        "margin": metrics["eval_margin"],
        "last_loss": losses[-1] if losses else None,
        "config": {
            "learning_rate": args.learning_rate,
            "gradient_checkpointing": args.gradient_checkpointing,
            "max_length": args.max_length,
            "precompute_ref_log_probs": args.precompute_ref_log_probs,
            "peft": None,
            "beta": args.beta,
        },
    }


def run(quick: bool) -> dict[str, Any]:
    import torch

    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    # A fresh datasets cache: TRL caches precomputed reference log-probs by dataset and model
    # hash, and a cache hit left by an earlier run would skip work the engine must do.
    os.environ["HF_DATASETS_CACHE"] = str(work / "hf-datasets")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    n_train, n_eval = (16, 8) if quick else (64, 32)
    batch = 4  # the dpo preset's batch size, used for both
    epochs = 2  # the dpo preset's num_train_epochs
    max_steps = epochs * n_train // batch
    load_before = os.getloadavg()[0]
    try:
        model_dir = BUNDLED
        train_rows, eval_rows = make_pairs(n_train, seed=1), make_pairs(n_eval, seed=2)
        data_dir = write_snapshot(work / "snapshot", train_rows, eval_rows)
        ours = run_engine(model_dir, data_dir, work / "adapter", max_steps)
        theirs = run_trl_default(
            model_dir, train_rows, eval_rows, work, batch=batch, max_steps=max_steps
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]

    value = ours["steps"] * ours["batch_size"] / ours["seconds"]
    baseline = theirs["steps"] * theirs["batch_size"] / theirs["seconds"]
    return {
        "metric": "dpo_samples_per_second",
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "goal": f"ratio >= {GOAL_RATIO} with held-out preference accuracy >= the baseline's",
        "unit": "pairs/s",
        "params": {
            "model": "SmolLM2-135M-Instruct (the bundled model the vLLM server serves)",
            "train_pairs": n_train,
            "held_out_pairs": n_eval,
            "steps": max_steps,
            "batch_size": batch,
            "data": "synthetic conversational pairs: helpful chosen (1-6 sentences) vs curt "
            "rejected",
            "load_average_1m_before": round(load_before, 2),
            "load_average_1m_after": round(load_after, 2),
            "torch_threads": torch.get_num_threads(),
        },
        "goal_met": value / baseline >= GOAL_RATIO and ours["accuracy"] >= theirs["accuracy"],
        "engine": ours,
        "trl_default": theirs,
    }
