"""Direct Preference Optimization on preference pairs (TRL DPOTrainer).

With LoRA the reference policy is the same model with its adapter disabled (no second copy).
By default the reference log-probs are computed once, before the first step (so full
fine-tuning keeps no frozen copy either), and batches are bucketed by length; with gradient
checkpointing off these are what make it faster than DPOTrainer's defaults (`bench train`).
Held-out evaluation: implicit-reward accuracy and mean margin of chosen over rejected, against
the reference and against the parent version.
"""

from __future__ import annotations

from pathlib import Path

from trl import DPOConfig, DPOTrainer

from training.engine import bucketing, evaluation, recipe
from training.engine.config import TrainConfig
from training.engine.progress import ProgressFn, StopFn

METHOD = "dpo"


def train(
    config: TrainConfig,
    data_dir: str | Path,
    progress: ProgressFn | None = None,
    *,
    should_stop: StopFn | None = None,
) -> recipe.TrainResult:
    snapshot, out = recipe.begin(config, METHOD, data_dir)
    tokenizer = recipe.load_tokenizer(config.base_model)
    model, peft_config = recipe.load_policy(config)
    eval_rows = recipe.held_out(snapshot, config)
    callback = recipe.progress_callback(progress, should_stop)

    with recipe.scratch_dir(out) as work:
        args = DPOConfig(
            **recipe.trainer_args(config, work),
            max_length=config.max_length,
            beta=config.dpo.beta,
            loss_type=[config.dpo.loss_type],
            label_smoothing=config.dpo.label_smoothing,
            precompute_ref_log_probs=config.dpo.precompute_ref_log_probs,
            precompute_ref_batch_size=2 * config.batch_size,  # no gradients: twice the rows
        )
        trainer_class = bucketing.bucketed(DPOTrainer) if config.bucket_by_length else DPOTrainer
        trainer = trainer_class(
            model=model,
            args=args,
            train_dataset=snapshot.splits["train"],
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[callback],
        )
        recipe.run(trainer, callback)
        metrics = recipe.final_metrics(callback)
        if recipe.evaluates_here(eval_rows):
            metrics.update(
                evaluation.policy_preference_metrics(
                    trainer.model,
                    tokenizer,
                    eval_rows,
                    config.dpo.beta,
                    ref_model=None if config.lora else recipe.load_reference(config),
                    parent=recipe.parent_unless_reference(trainer.model, config),
                    max_length=config.max_length,
                )
            )

    return recipe.finish(
        config, snapshot, out, trainer, tokenizer, metrics, [callback], reference=True
    )
