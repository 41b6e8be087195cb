"""Supervised fine-tuning on demonstrations (TRL SFTTrainer), LoRA by default.

Takes messages, alpaca and dolly exports (the last two as prompt/completion rows: the loss is
on the answer only) and text exports (language modelling on the whole text), see data.py.

Held-out evaluation: validation loss, and ROUGE-L / BLEU of greedy answers to the first
`eval_generation_rows` held-out prompts vs their references; the parent version's loss, ROUGE-L
and BLEU on the same rows and prompts (what `gate_metric` compares).
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
    """New vs parent on the held-out rows: loss, and ROUGE-L / BLEU where rows have prompts."""
    metrics = {"eval_loss": float(trainer.evaluate()["eval_loss"])}
    refs = evaluation.held_out_references(eval_rows, tokenizer, config)
    metrics.update(evaluation.compare_with_parent(trainer, tokenizer, config, refs))
    return metrics
