"""What every method's `train()` shares: device settings, model and tokenizer loading, LoRA,
a scratch directory for the trainer, running with progress/cancellation, and the result.

Each method module reads top to bottom as: load snapshot → validate → build the TRL trainer →
run → evaluate → publish (the torchtune recipe shape).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback

from training.engine import lineage, ranks
from training.engine.config import ConfigError, TrainConfig, validate
from training.engine.data import Snapshot, load_snapshot
from training.engine.progress import Cancelled, ProgressCallback, ProgressFn, StopFn
from training.engine.prompts import TEXT, TextTemplate, prompt_style_for
from training.engine.publish import build_meta, publish

# The name TRL 1.16's DPOTrainer and KTOTrainer give their copy of an adapter they continue.
REFERENCE_ADAPTER = "ref"


@dataclass
class TrainResult:
    method: str = field(metadata={"help": "The method that ran."})
    output_dir: str = field(metadata={"help": "Published adapter (or full weights) directory."})
    metrics: dict[str, float] = field(
        default_factory=dict, metadata={"help": "Final train metrics and held-out evaluation."}
    )
    history: list[dict[str, Any]] = field(
        default_factory=list, metadata={"help": "Every logged record, in order."}
    )
    steps: int = field(default=0, metadata={"help": "Optimiser steps done."})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def begin(config: TrainConfig, method: str, data_dir: str | Path) -> tuple[Snapshot, Path]:
    """Load and check everything that can fail before any weights are touched."""
    if config.method != method:
        raise ConfigError(f"config is for method {config.method!r}, not {method!r}")
    validate(config)
    if not config.output_dir:
        raise ConfigError("output_dir is empty: say where to publish the result")
    out = Path(config.output_dir).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"output directory {out} already exists and is not empty")
    if not (Path(config.base_model) / "config.json").is_file():
        raise ConfigError(
            f"base_model {config.base_model} has no config.json: not a model directory"
        )
    snapshot = load_snapshot(data_dir, method, text_template=text_template(config))
    validate(config, snapshot.stats)
    return snapshot, out


def text_template(config: TrainConfig) -> TextTemplate | None:
    """The text template prompts are rendered with, for a text-style model; None for chat."""
    if prompt_style_for(config.prompt_style, config.base_model) != TEXT:
        return None
    return TextTemplate(config.text_template)


def on_gpu() -> bool:
    return torch.cuda.is_available()


def device_args() -> dict[str, Any]:
    """CPU: float32 with `use_cpu`; GPU: bf16 where supported."""
    if not on_gpu():
        return {"use_cpu": True, "bf16": False, "fp16": False}
    return {"use_cpu": False, "bf16": torch.cuda.is_bf16_supported(), "fp16": False}


def trainer_args(config: TrainConfig, work_dir: Path) -> dict[str, Any]:
    """TrainingArguments shared by all TRL configs: no checkpoints, no hub, no reporting."""
    return {
        "output_dir": str(work_dir),
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler_type,
        "warmup_steps": config.warmup_steps,
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.batch_size,
        "per_device_eval_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        # transformers 5.23 name; TRL reads the mirrored `gradient_checkpointing` alias
        "activation_checkpointing": config.gradient_checkpointing,
        "seed": config.seed,
        "logging_strategy": "steps",
        "logging_steps": config.logging_steps,
        "logging_first_step": True,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "push_to_hub": False,
        **device_args(),
    }


def lora_config(config: TrainConfig, task_type: str = "CAUSAL_LM") -> Any:
    """The PEFT LoraConfig for the run, or None for full fine-tuning."""
    if not config.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        task_type=task_type,
    )


def model_dtype() -> torch.dtype:
    if on_gpu() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_tokenizer(path: str | Path, padding_side: str | None = None) -> Any:
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if padding_side is not None:
        tokenizer.padding_side = padding_side
    return tokenizer


def load_causal_lm(path: str | Path) -> Any:
    """The model on the CPU: the Trainer (accelerate) puts the one it trains on each
    process's device; `evaluation_model` places one that only evaluates."""
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=model_dtype())


def evaluation_model(model: Any) -> Any:
    """`model`, frozen and on this process's device, for scoring beside the trained one."""
    model.eval()
    model.requires_grad_(False)
    return model.to(ranks.device())


def evaluates_here(eval_rows: Any) -> bool:
    """Whether this process runs the held-out evaluation: there are rows, and it is the main
    process (the others wait for it in `finish`). Scoring uses plain forward passes of the
    unwrapped model, so the main process needs no other."""
    return eval_rows is not None and ranks.is_main()


def load_policy(config: TrainConfig) -> tuple[Any, Any]:
    """(the model to train, the LoraConfig to give the trainer) for the run's start.

    Continuing the parent (lineage.continues_parent), the model already holds the parent's
    adapter, trainable, and the trainer gets no LoraConfig: DPOTrainer and KTOTrainer then
    copy that adapter into a frozen "ref" adapter, their reference. A full fine-tune from the
    parent starts from the parent's adapter merged into the base.
    """
    model = load_causal_lm(config.base_model)
    if lineage.continues_parent(config):
        from peft import PeftModel

        return PeftModel.from_pretrained(model, config.parent_adapter, is_trainable=True), None
    if lineage.starts_from_parent(config):
        # PEFT froze the base weights when it wrapped them; a full fine-tune trains them all.
        return _merged_parent(model, config).requires_grad_(True), None
    return model, lora_config(config)


def classifier_policy(model: Any, config: TrainConfig) -> tuple[Any, Any]:
    """load_policy for a reward model (a one-output classifier on the base): continuing, a
    fresh SEQ_CLS LoRA (which trains the new score head too) takes the parent's LoRA weights."""
    peft_config = lora_config(config, task_type="SEQ_CLS")
    if not lineage.continues_parent(config):
        return model, peft_config
    from peft import get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    model = get_peft_model(model, peft_config)
    weights = load_file(str(Path(config.parent_adapter) / "adapter_model.safetensors"))
    loaded = set_peft_model_state_dict(model, weights)
    if loaded.unexpected_keys:
        raise ConfigError(
            f"the parent adapter {config.parent_adapter} does not fit a reward model "
            f"({len(loaded.unexpected_keys)} weights without a place): set init_from_parent false"
        )
    return model, None


def load_reference(config: TrainConfig) -> Any:
    """A frozen copy of the policy the run started from: the reference a full fine-tune's
    held-out evaluation scores against (a LoRA run disables or switches its adapter instead)."""
    model = load_causal_lm(config.base_model)
    return evaluation_model(
        _merged_parent(model, config) if lineage.starts_from_parent(config) else model
    )


def _merged_parent(model: Any, config: TrainConfig) -> Any:
    from peft import PeftModel

    return PeftModel.from_pretrained(model, config.parent_adapter).merge_and_unload()


def parent_unless_reference(model: Any, config: TrainConfig) -> Any:
    """The parent's policy for a held-out comparison beside the reference's, or None where the
    run started from its parent, so the reference is the parent (no second scoring)."""
    if not config.parent_adapter or lineage.starts_from_parent(config):
        return None
    from training.engine.evaluation import parent_policy

    return parent_policy(model, config)


def drop_reference_adapter(model: Any) -> None:
    """Delete TRL's "ref" copy of the parent's adapter, so only the trained one is published
    (PEFT saves every adapter a model holds)."""
    if REFERENCE_ADAPTER in (getattr(model, "peft_config", None) or {}):
        model.delete_adapter(REFERENCE_ADAPTER)


@contextlib.contextmanager
def scratch_dir(out: Path) -> Iterator[Path]:
    """The trainer's own output_dir: beside the target, always removed afterwards."""
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.work-", dir=out.parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def progress_callback(
    progress: ProgressFn | None, should_stop: StopFn | None, phase: str = "train"
) -> ProgressCallback:
    return ProgressCallback(progress=progress, should_stop=should_stop, phase=phase)


def run(trainer: Any, callback: ProgressCallback) -> Any:
    """trainer.train(), then Cancelled if the caller asked to stop."""
    trainer.remove_callback(PrinterCallback)  # progress goes through the callback instead
    output = trainer.train()
    if callback.agree_cancelled():
        raise Cancelled(
            f"cancelled at step {trainer.state.global_step} of {trainer.state.max_steps}"
        )
    return output


def final_metrics(callback: ProgressCallback) -> dict[str, float]:
    """The last logged value of every train metric, plus the first and last loss."""
    metrics: dict[str, float] = {}
    for record in callback.history:
        for key, value in record.items():
            if key in ("step", "phase") or key.startswith("eval_"):
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics[key] = float(value)
    losses = callback.losses()
    if losses:
        metrics["first_loss"] = float(losses[0])
        metrics["last_loss"] = float(losses[-1])
    return metrics


def held_out(snapshot: Snapshot, config: TrainConfig) -> Any:
    """The evaluation split capped at eval_max_samples rows, or None when evaluation is off."""
    if not config.eval:
        return None
    dataset = snapshot.splits.get(config.eval_split)
    if dataset is None or len(dataset) == 0:
        return None
    return dataset.select(range(min(len(dataset), config.eval_max_samples)))


def result(
    config: TrainConfig, out: Path, metrics: dict[str, float], callbacks: list[ProgressCallback]
) -> TrainResult:
    history = [record for cb in callbacks for record in cb.history]
    steps = max((int(r.get("step", 0)) for r in callbacks[-1].history), default=0)
    return TrainResult(
        method=config.method, output_dir=str(out), metrics=metrics, history=history, steps=steps
    )


def finish(
    config: TrainConfig,
    snapshot: Snapshot,
    out: Path,
    trainer: Any,
    tokenizer: Any,
    metrics: dict[str, float],
    callbacks: list[ProgressCallback],
    reference: bool = False,
    **meta_extra: Any,
) -> TrainResult:
    """Publish the trained model with its meta.json and describe the run: every method ends so.

    meta.json's `started_from` says what the run began from (`reference`: and what it was
    scored against while training; DPO and KTO have a reference policy). Under a launcher the
    main process publishes while the others wait for it, so none exits before it is done.
    """
    if ranks.is_main():
        _publish(config, snapshot, out, trainer, tokenizer, metrics, reference, **meta_extra)
    ranks.wait_for_everyone()
    return result(config, out, metrics, callbacks)


def _publish(
    config: TrainConfig,
    snapshot: Snapshot,
    out: Path,
    trainer: Any,
    tokenizer: Any,
    metrics: dict[str, float],
    reference: bool,
    **meta_extra: Any,
) -> None:
    meta = build_meta(
        config=config,
        base_model=config.base_model,
        snapshot_dir=snapshot.data_dir,
        manifest_sha256=snapshot.manifest_sha256,
        metrics=metrics,
        kind="adapter" if config.lora else "full",
        extra={"started_from": lineage.started_from(config, reference=reference)},
        **meta_extra,
    )
    drop_reference_adapter(trainer.model)
    publish(out, trainer.model, meta, tokenizer=tokenizer)
