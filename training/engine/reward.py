"""Reward model on preference pairs (TRL RewardTrainer): a sequence classifier with one
output, trained so the chosen answer scores above the rejected one (Bradley-Terry loss).

With LoRA the published adapter also carries the new score head (PEFT's SEQ_CLS task saves it).
Held-out evaluation: accuracy and mean margin of the scores on the pairs. The RLHF method
reuses `fit` and `load_reward_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import AutoModelForSequenceClassification
from trl import RewardConfig, RewardTrainer

from training.engine import evaluation, recipe
from training.engine.config import TrainConfig
from training.engine.data import Snapshot
from training.engine.progress import ProgressCallback, ProgressFn, StopFn
from training.engine.publish import adapter_base_model

METHOD = "reward"


def train(
    config: TrainConfig,
    data_dir: str | Path,
    progress: ProgressFn | None = None,
    *,
    should_stop: StopFn | None = None,
) -> recipe.TrainResult:
    snapshot, out = recipe.begin(config, METHOD, data_dir)
    tokenizer = recipe.load_tokenizer(config.base_model)
    eval_rows = recipe.held_out(snapshot, config)
    callback = recipe.progress_callback(progress, should_stop)

    with recipe.scratch_dir(out) as work:
        trainer = fit(config, snapshot, tokenizer, callback, work)
        metrics = recipe.final_metrics(callback)
        if recipe.evaluates_here(eval_rows):
            metrics.update(
                evaluation.reward_preference_metrics(
                    trainer.model, tokenizer, eval_rows, max_length=config.max_length
                )
            )

    return recipe.finish(
        config, snapshot, out, trainer, tokenizer, metrics, [callback], task="reward_model"
    )


def fit(
    config: TrainConfig,
    snapshot: Snapshot,
    tokenizer: Any,
    callback: ProgressCallback,
    work: Path,
    *,
    learning_rate: float | None = None,
    num_train_epochs: float | None = None,
    max_steps: int | None = None,
) -> RewardTrainer:
    """Train a reward model on the snapshot's train pairs; returns the finished trainer."""
    model, peft_config = recipe.classifier_policy(load_classifier(config.base_model), config)
    model.config.pad_token_id = tokenizer.pad_token_id
    base_args = recipe.trainer_args(config, work)
    if learning_rate is not None:
        base_args["learning_rate"] = learning_rate
    if num_train_epochs is not None:
        base_args["num_train_epochs"] = num_train_epochs
    if max_steps is not None:
        base_args["max_steps"] = max_steps
    args = RewardConfig(
        **base_args,
        max_length=config.max_length,
        center_rewards_coefficient=config.reward.center_rewards_coefficient or None,
    )
    pairs = snapshot.splits["train"].select_columns(["prompt", "chosen", "rejected"])
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=pairs,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[callback],
    )
    recipe.run(trainer, callback)
    return trainer


def load_classifier(path: str | Path) -> Any:
    """A one-output sequence classifier on top of the causal LM at `path`."""
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=1, dtype=recipe.model_dtype()
    )
    return model


def load_reward_model(path: str | Path) -> tuple[Any, Any]:
    """(reward model, its tokenizer) from a full model dir or a reward adapter dir.

    An adapter is merged into its base so that TRL sees a plain PreTrainedModel.
    """
    path = Path(path)
    if (path / "adapter_config.json").is_file():
        from peft import PeftModel

        base = adapter_base_model(path)
        model = PeftModel.from_pretrained(load_classifier(base), str(path)).merge_and_unload()
        tokenizer = recipe.load_tokenizer(base)
    else:
        model = load_classifier(path)
        tokenizer = recipe.load_tokenizer(path)
    model.config.pad_token_id = tokenizer.pad_token_id
    return recipe.evaluation_model(model), tokenizer
