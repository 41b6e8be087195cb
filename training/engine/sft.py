"""Supervised fine-tuning on demonstrations (TRL SFTTrainer), LoRA by default.

Takes messages, alpaca and dolly exports (the last two as prompt/completion rows: the loss is
on the answer only) and text exports (language modelling on the whole text), see data.py.

Held-out evaluation: validation loss (and the parent version's on the same rows), and
ROUGE-L / BLEU of greedy answers vs the references.
"""

from __future__ import annotations

from pathlib import Path

from trl import SFTConfig, SFTTrainer

from training.engine import evaluation, recipe
from training.engine.config import TrainConfig
from training.engine.progress import ProgressFn, StopFn

METHOD = "sft"


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
        args = SFTConfig(
            **recipe.trainer_args(config, work),
            max_length=config.max_length,
            completion_only_loss=None,  # prompt-completion rows train on the completion only
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=snapshot.splits["train"],
            eval_dataset=eval_rows,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[callback],
        )
        recipe.run(trainer, callback)
        metrics = recipe.final_metrics(callback)
        if eval_rows is not None:
            metrics.update(evaluate(trainer, tokenizer, eval_rows, config))

    return recipe.finish(config, snapshot, out, trainer, tokenizer, metrics, [callback])


def evaluate(trainer: SFTTrainer, tokenizer, eval_rows, config: TrainConfig) -> dict[str, float]:
    metrics = {"eval_loss": float(trainer.evaluate()["eval_loss"])}
    with evaluation.parent_policy(trainer.model, config) as parent:
        metrics["eval_parent_loss"] = evaluation.trainer_loss(trainer, parent)
    if "text" in eval_rows.column_names:  # plain text holds no prompt to answer
        return metrics
    metrics.update(
        evaluation.generation_metrics(
            trainer.model, tokenizer, eval_rows, max_new_tokens=config.eval_max_new_tokens
        )
    )
    return metrics
