"""RLHF with a reward model: train one on the snapshot's preference pairs (RewardTrainer) or
take a given one, then optimise the policy against it with RLOO (or GRPO), a KL penalty of
weight `rlhf.beta` keeping it near the reference policy (the base model: with LoRA, the same
model with its adapter disabled). TRL 1.16 has no PPOTrainer; RLOO is its successor here.

Published: the policy adapter, plus the trained reward adapter under `reward_model/`.
Held-out evaluation: the reward model's win rate of the new policy's greedy answers over the
parent version's on the held-out prompts, and on held-out preference pairs the implicit reward
relative to the parent (as for DPO).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

from training.engine import evaluation, lineage, ranks, recipe, reward
from training.engine.config import TrainConfig
from training.engine.progress import ProgressFn, StopFn
from training.engine.publish import build_meta, publish, save_weights, write_meta

METHOD = "rlhf"
REWARD_SUBDIR = "reward_model"


def train(
    config: TrainConfig,
    data_dir: str | Path,
    progress: ProgressFn | None = None,
    *,
    should_stop: StopFn | None = None,
) -> recipe.TrainResult:
    snapshot, out = recipe.begin(config, METHOD, data_dir)
    eval_rows = recipe.held_out(snapshot, config)
    callbacks: list[Any] = []

    with recipe.scratch_dir(out) as work:
        reward_model, reward_tokenizer, metrics, reward_dir = _reward_phase(
            config, snapshot, eval_rows, progress, should_stop, work, callbacks
        )
        policy_cb = recipe.progress_callback(progress, should_stop, phase="policy")
        callbacks.append(policy_cb)
        trainer = build_policy_trainer(
            config,
            snapshot.splits["train"],
            reward_model,
            reward_tokenizer,
            policy_cb,
            work / "policy-run",
        )
        recipe.run(trainer, policy_cb)
        metrics.update(recipe.final_metrics(policy_cb))
        if recipe.evaluates_here(eval_rows):
            metrics.update(
                _held_out_metrics(trainer, reward_model, reward_tokenizer, eval_rows, config)
            )
        if ranks.is_main():
            _publish(out, trainer, config, snapshot, metrics, reward_dir)
        ranks.wait_for_everyone()
    return recipe.result(config, out, metrics, callbacks)


def _reward_phase(
    config: TrainConfig,
    snapshot: Any,
    eval_rows: Any,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
    work: Path,
    callbacks: list[Any],
) -> tuple[Any, Any, dict[str, float], Path | None]:
    """The given reward model, or one trained here: (model, tokenizer, its metrics, its dir)."""
    if config.rlhf.reward_model:
        reward_model, reward_tokenizer = reward.load_reward_model(config.rlhf.reward_model)
        return reward_model, reward_tokenizer, {}, None
    reward_cb = recipe.progress_callback(progress, should_stop, phase="reward")
    callbacks.append(reward_cb)
    reward_model, reward_tokenizer, reward_metrics = train_reward_model(
        config, snapshot, eval_rows, reward_cb, work
    )
    return reward_model, reward_tokenizer, dict(reward_metrics), work / REWARD_SUBDIR


def _held_out_metrics(
    trainer: Any, reward_model: Any, reward_tokenizer: Any, eval_rows: Any, config: TrainConfig
) -> dict[str, float]:
    """The reward model's win rate over the parent, and on human pairs the gate's figure."""
    metrics = win_rate_vs_parent(
        trainer.model, trainer.processing_class, reward_model, reward_tokenizer, eval_rows, config
    )
    if "chosen" in eval_rows.column_names:  # human preference pairs: the gate's figure
        metrics.update(
            evaluation.preference_vs_parent_metrics(
                trainer.model,
                trainer.processing_class,
                eval_rows,
                evaluation.parent_policy(trainer.model, config),
                max_length=config.max_length,
            )
        )
    return metrics


def _publish(
    out: Path,
    trainer: Any,
    config: TrainConfig,
    snapshot: Any,
    metrics: dict[str, float],
    reward_dir: Path | None,
) -> None:
    """The policy adapter, with the trained reward model beside it under reward_model/."""
    meta = build_meta(
        config=config,
        base_model=config.base_model,
        snapshot_dir=snapshot.data_dir,
        manifest_sha256=snapshot.manifest_sha256,
        metrics=metrics,
        kind="adapter" if config.lora else "full",
        extra={
            "reward_model": config.rlhf.reward_model or REWARD_SUBDIR,
            "started_from": lineage.started_from(config, reference=config.rlhf.beta > 0),
        },
    )
    recipe.drop_reference_adapter(trainer.model)

    def add_reward_model(tmp: Path) -> None:
        if reward_dir is not None:
            shutil.copytree(reward_dir, tmp / REWARD_SUBDIR)

    publish(out, trainer.model, meta, tokenizer=trainer.processing_class, extra=add_reward_model)


def train_reward_model(
    config: TrainConfig, snapshot: Any, eval_rows: Any, callback: Any, work: Path
) -> tuple[Any, Any, dict[str, float]]:
    """Phase one: a reward model on the train pairs, saved to work/reward_model and merged."""
    tokenizer = recipe.load_tokenizer(config.base_model)
    trainer = reward.fit(
        config,
        snapshot,
        tokenizer,
        callback,
        work / "reward-run",
        learning_rate=config.rlhf.reward_learning_rate,
        num_train_epochs=config.rlhf.reward_epochs,
        max_steps=-1,
    )
    metrics = recipe.final_metrics(callback)
    if recipe.evaluates_here(eval_rows):
        metrics.update(
            evaluation.reward_preference_metrics(
                trainer.model, tokenizer, eval_rows, max_length=config.max_length
            )
        )
    metrics = {f"reward/{k}": v for k, v in metrics.items()}
    save_reward_model(trainer.model, tokenizer, work / REWARD_SUBDIR, config, metrics)
    model = merged(trainer.model)
    model.requires_grad_(False)
    return model, tokenizer, metrics


def build_policy_trainer(
    config: TrainConfig,
    train_rows: Any,
    reward_model: Any,
    reward_tokenizer: Any,
    callback: Any,
    work: Path,
) -> Any:
    tokenizer = recipe.load_tokenizer(config.base_model, padding_side="left")
    policy, peft_config = recipe.load_policy(config)
    r = config.rlhf
    config_cls, trainer_cls = (
        (RLOOConfig, RLOOTrainer) if r.algorithm == "rloo" else (GRPOConfig, GRPOTrainer)
    )
    args = config_cls(
        **recipe.trainer_args(config, work),
        beta=r.beta,
        num_generations=r.num_generations,
        max_completion_length=r.max_new_tokens,
        temperature=r.temperature,
    )
    return trainer_cls(
        model=policy,
        reward_funcs=reward_model,
        args=args,
        train_dataset=train_rows.select_columns(["prompt"]),
        processing_class=tokenizer,
        reward_processing_classes=reward_tokenizer,
        peft_config=peft_config,
        callbacks=[callback],
    )


def merged(model: Any) -> Any:
    """A plain PreTrainedModel for TRL's reward_funcs (LoRA folded in)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def save_reward_model(
    model: Any, tokenizer: Any, directory: Path, config: TrainConfig, metrics: dict
) -> None:
    directory.mkdir(parents=True)
    kind = save_weights(model, directory, tokenizer)
    meta = build_meta(
        config=config,
        base_model=config.base_model,
        snapshot_dir=None,
        manifest_sha256=None,
        metrics={k: v for k, v in metrics.items() if k.startswith("reward/")},
        kind=kind,
        task="reward_model",
    )
    write_meta(directory, meta)


def win_rate_vs_parent(
    model: Any,
    tokenizer: Any,
    reward_model: Any,
    reward_tokenizer: Any,
    rows: Any,
    config: TrainConfig,
) -> dict[str, float]:
    prompts = list(rows["prompt"])
    new = evaluation.greedy_completions(
        model, tokenizer, prompts, max_new_tokens=config.eval_max_new_tokens
    )
    with evaluation.parent_policy(model, config) as parent_model:
        parent = evaluation.greedy_completions(
            parent_model, tokenizer, prompts, max_new_tokens=config.eval_max_new_tokens
        )
    scores = evaluation.reward_win_rate(
        reward_model, reward_tokenizer, new, parent, prompts, max_length=config.max_length
    )
    return {f"eval_{k}": v for k, v in scores.items()}
