"""Kahneman-Tversky Optimization on binary-rated completions (TRL KTOTrainer).

Each row is one completion labelled desirable or not; no pairs are needed. TRL estimates the
KL term from the other completions in the batch, hence batch_size >= 2 (checked in validate).
Unequal counts of desirable and undesirable rows are balanced by TRL's class weights, set from
the counts unless the admin set them (class_weights).
Held-out evaluation: how often the implicit reward's sign matches the label, against the base
model and against the parent version.
"""

from __future__ import annotations

from pathlib import Path

from trl import KTOConfig, KTOTrainer

from training.engine import evaluation, recipe
from training.engine.checks import kto_weights_for
from training.engine.config import TrainConfig, apply_overrides
from training.engine.progress import ProgressFn, StopFn
from training.engine.schema import DatasetStats

METHOD = "kto"


def train(
    config: TrainConfig,
    data_dir: str | Path,
    progress: ProgressFn | None = None,
    *,
    should_stop: StopFn | None = None,
) -> recipe.TrainResult:
    snapshot, out = recipe.begin(config, METHOD, data_dir)
    config, weights = class_weights(config, snapshot.stats)
    tokenizer = recipe.load_tokenizer(config.base_model)
    model, peft_config = recipe.load_policy(config)
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
            peft_config=peft_config,
            callbacks=[callback],
        )
        recipe.run(trainer, callback)
        metrics = {**recipe.final_metrics(callback), **weights}
        if recipe.evaluates_here(eval_rows):
            metrics.update(
                evaluation.policy_label_metrics(
                    trainer.model,
                    tokenizer,
                    eval_rows,
                    config.kto.beta,
                    ref_model=None if config.lora else recipe.load_reference(config),
                    parent=recipe.parent_unless_reference(trainer.model, config),
                    max_length=config.max_length,
                )
            )

    return recipe.finish(
        config, snapshot, out, trainer, tokenizer, metrics, [callback], reference=True
    )


def class_weights(config: TrainConfig, stats: DatasetStats) -> tuple[TrainConfig, dict[str, float]]:
    """The config with the class weights it trains with, set from the train split's counts
    unless the admin set them (meta.json's config then records them), and the figures the
    run reports: both weights and both counts."""
    desirable, undesirable = kto_weights_for(config.kto, stats.desirable, stats.undesirable)
    config = apply_overrides(
        config, {"kto.desirable_weight": desirable, "kto.undesirable_weight": undesirable}
    )
    return config, {
        "kto_desirable_weight": desirable,
        "kto_undesirable_weight": undesirable,
        "kto_desirable_rows": float(stats.desirable),
        "kto_undesirable_rows": float(stats.undesirable),
    }
