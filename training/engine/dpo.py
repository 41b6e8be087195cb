"""Direct Preference Optimization on preference pairs (TRL DPOTrainer).

With LoRA the reference policy is the same model with its adapter disabled (no second copy);
with full fine-tuning TRL loads a frozen copy of the base model.
Held-out evaluation: implicit-reward accuracy and mean margin of chosen over rejected.
"""

from __future__ import annotations

from pathlib import Path

from trl import DPOConfig, DPOTrainer

from training.engine import evaluation, recipe
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
    model = recipe.load_causal_lm(config.base_model)
    eval_rows = recipe.held_out(snapshot, config)
    callback = recipe.progress_callback(progress, should_stop)

    with recipe.scratch_dir(out) as work:
        args = DPOConfig(
            **recipe.trainer_args(config, work),
            max_length=config.max_length,
            beta=config.dpo.beta,
            loss_type=[config.dpo.loss_type],
            label_smoothing=config.dpo.label_smoothing,
        )
        trainer = DPOTrainer(
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
                evaluation.policy_preference_metrics(
                    trainer.model,
                    tokenizer,
                    eval_rows,
                    config.dpo.beta,
                    ref_model=None if config.lora else recipe.load_causal_lm(config.base_model),
                    max_length=config.max_length,
                )
            )

    return recipe.finish(
        config, snapshot, out, trainer, tokenizer, metrics, [callback]
    )
