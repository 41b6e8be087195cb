"""Kahneman-Tversky Optimization on binary-rated completions (TRL KTOTrainer).

Each row is one completion labelled desirable or not; no pairs are needed. TRL estimates the
KL term from the other completions in the batch, hence batch_size >= 2 (checked in validate).
Held-out evaluation: how often the implicit reward's sign matches the label, against the base
model and against the parent version.
"""

from __future__ import annotations

from pathlib import Path

from trl import KTOConfig, KTOTrainer

from training.engine import evaluation, recipe
from training.engine.config import TrainConfig
from training.engine.progress import ProgressFn, StopFn

METHOD = "kto"


def train(
    config: TrainConfig,
    data_dir: str | Path,
    progress: ProgressFn | None = None,
    *,
    should_stop: StopFn | None = None,
) -> recipe.TrainResult:
    snapshot, out = recipe.begin(config, METHOD, data_dir)
    tokenizer = recipe.load_tokenizer(config.base_model)
    model = recipe.load_causal_lm(config.base_model)
    eval_rows = recipe.held_out(snapshot, config)
    callback = recipe.progress_callback(progress, should_stop)

    with recipe.scratch_dir(out) as work:
        args = KTOConfig(
            **recipe.trainer_args(config, work),
            max_length=config.max_length,
            beta=config.kto.beta,
            loss_type=config.kto.loss_type,
            desirable_weight=config.kto.desirable_weight,
            undesirable_weight=config.kto.undesirable_weight,
        )
        trainer = KTOTrainer(
            model=model,
            args=args,
            train_dataset=snapshot.splits["train"],
            processing_class=tokenizer,
            peft_config=recipe.lora_config(config),
            callbacks=[callback],
        )
        recipe.run(trainer, callback)
        metrics = recipe.final_metrics(callback)
        if eval_rows is not None:
            metrics.update(
                evaluation.policy_label_metrics(
                    trainer.model,
                    tokenizer,
                    eval_rows,
                    config.kto.beta,
                    ref_model=None if config.lora else recipe.load_causal_lm(config.base_model),
                    parent=evaluation.parent_policy(trainer.model, config)
                    if config.parent_adapter
                    else None,
                    max_length=config.max_length,
                )
            )

    return recipe.finish(config, snapshot, out, trainer, tokenizer, metrics, [callback])
