"""Odds Ratio Preference Optimization (trl.experimental.orpo.ORPOTrainer): SFT on the chosen
answer plus an odds-ratio penalty on the rejected one, no reference model during training.

Held-out evaluation: implicit-reward accuracy and margin against the base model (adapter
disabled), i.e. how much more the tuned model favours chosen over rejected than the base did,
and the same against the parent version.
"""

from __future__ import annotations

from pathlib import Path

from trl.experimental.orpo import ORPOConfig, ORPOTrainer

from training.engine import evaluation, recipe
from training.engine.config import TrainConfig
from training.engine.progress import ProgressFn, StopFn

METHOD = "orpo"


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
        args = ORPOConfig(
            **recipe.trainer_args(config, work),
            max_length=config.max_length,
            beta=config.orpo.beta,
            remove_unused_columns=False,
        )
        trainer = ORPOTrainer(
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
                    config.orpo.beta,
                    ref_model=None
                    if config.lora
                    else recipe.evaluation_model(recipe.load_causal_lm(config.base_model)),
                    parent=evaluation.parent_policy(trainer.model, config)
                    if config.parent_adapter
                    else None,
                    max_length=config.max_length,
                )
            )

    return recipe.finish(config, snapshot, out, trainer, tokenizer, metrics, [callback])
