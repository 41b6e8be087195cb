"""Per-method held-out reports: the metrics dicts each method's `train()` returns, built from
model scores (scoring) and pure figures (metrics). The publish gate reads them
(training.engine.gate).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import torch

from training.engine.evaluation.metrics import (
    implicit_rewards,
    label_accuracy,
    label_agreement,
    label_margin,
    mean_margin,
    preference_accuracy,
    preference_vs_parent,
    win_rate,
)
from training.engine.evaluation.scoring import (
    completion_logps,
    eval_mode,
    pair_logps,
    reference,
    reward_scores,
)

# --- preference pairs (DPO, ORPO, RLHF) ----------------------------------------------------------


def policy_preference_metrics(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    beta: float,
    *,
    ref_model: Any = None,
    parent: contextlib.AbstractContextManager[Any] | None = None,
    max_length: int = 1024,
) -> dict[str, float]:
    """Implicit-reward accuracy and mean margin of chosen over rejected on held-out pairs,
    and the same relative to the parent version (`preference_vs_parent`).

    The reference is `ref_model` when given, else `model` with its adapter disabled. `parent`
    yields the parent's policy (`parent_policy`); None: the parent is the reference itself.
    """
    with eval_mode(model):
        pol_c, pol_r = pair_logps(model, tokenizer, dataset, max_length=max_length)
        with reference(model, ref_model) as ref:
            ref_c, ref_r = pair_logps(ref, tokenizer, dataset, max_length=max_length)
        par_c, par_r = ref_c, ref_r
        if parent is not None:
            with parent as parent_model:
                par_c, par_r = pair_logps(parent_model, tokenizer, dataset, max_length=max_length)
    reward_c = implicit_rewards(pol_c, ref_c, beta)
    reward_r = implicit_rewards(pol_r, ref_r, beta)
    return {
        "eval_preference_accuracy": preference_accuracy(reward_c, reward_r),
        "eval_margin": mean_margin(reward_c, reward_r),
        "eval_chosen_reward": reward_c.mean().item(),
        "eval_rejected_reward": reward_r.mean().item(),
        "eval_pairs": float(len(reward_c)),
        **preference_vs_parent(pol_c, pol_r, par_c, par_r),
    }


def preference_vs_parent_metrics(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    parent: contextlib.AbstractContextManager[Any],
    *,
    max_length: int = 1024,
) -> dict[str, float]:
    """`preference_vs_parent` on held-out pairs, for a policy trained without a reference
    of its own (RLHF)."""
    with eval_mode(model):
        pol_c, pol_r = pair_logps(model, tokenizer, dataset, max_length=max_length)
        with parent as parent_model:
            par_c, par_r = pair_logps(parent_model, tokenizer, dataset, max_length=max_length)
    return {**preference_vs_parent(pol_c, pol_r, par_c, par_r), "eval_pairs": float(len(pol_c))}


# --- rated completions (KTO) ---------------------------------------------------------------------


def policy_label_metrics(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    beta: float,
    *,
    ref_model: Any = None,
    parent: contextlib.AbstractContextManager[Any] | None = None,
    max_length: int = 1024,
) -> dict[str, float]:
    """KTO held-out rows: does the implicit reward's sign match the desirable label? Also
    relative to the parent (`label_agreement`); `ref_model` and `parent` as for pairs."""
    prompts, completions = list(dataset["prompt"]), list(dataset["completion"])
    labels = torch.tensor([bool(x) for x in dataset["label"]])

    def logps(scored: Any) -> torch.Tensor:
        return completion_logps(scored, tokenizer, prompts, completions, max_length=max_length)

    with eval_mode(model):
        policy = logps(model)
        with reference(model, ref_model) as ref:
            ref_logps = logps(ref)
        parent_logps = ref_logps
        if parent is not None:
            with parent as parent_model:
                parent_logps = logps(parent_model)
    rewards = implicit_rewards(policy, ref_logps, beta)
    metrics = {
        "eval_label_accuracy": label_accuracy(rewards, labels),
        "eval_vs_parent_label_accuracy": label_agreement(policy - parent_logps, labels),
        "eval_rows": float(len(labels)),
    }
    margin = label_margin(rewards, labels)
    if margin is not None:
        metrics["eval_margin"] = margin
    return metrics


# --- reward models (reward, RLHF) ----------------------------------------------------------------


def reward_preference_metrics(
    reward_model: Any, tokenizer: Any, dataset: Any, *, max_length: int = 1024
) -> dict[str, float]:
    """Accuracy and mean margin of the reward model's scores on held-out pairs."""
    prompts = list(dataset["prompt"])
    chosen = reward_scores(
        reward_model, tokenizer, prompts, list(dataset["chosen"]), max_length=max_length
    )
    rejected = reward_scores(
        reward_model, tokenizer, prompts, list(dataset["rejected"]), max_length=max_length
    )
    return {
        "eval_preference_accuracy": preference_accuracy(chosen, rejected),
        "eval_margin": mean_margin(chosen, rejected),
        "eval_pairs": float(len(chosen)),
    }


def reward_win_rate(
    reward_model: Any,
    tokenizer: Any,
    new_texts: Sequence[str],
    parent_texts: Sequence[str],
    prompts: Sequence[Any] | None = None,
    *,
    max_length: int = 1024,
) -> dict[str, float]:
    """How often the reward model prefers the new model's completion over its parent's.

    With `prompts`, each text is scored as the answer to its prompt; without, as it stands.
    """
    if len(new_texts) != len(parent_texts):
        raise ValueError(f"{len(new_texts)} new completions vs {len(parent_texts)} parent ones")
    new = reward_scores(reward_model, tokenizer, prompts, new_texts, max_length=max_length)
    parent = reward_scores(reward_model, tokenizer, prompts, parent_texts, max_length=max_length)
    return {
        "win_rate": win_rate(new, parent),
        "new_mean_reward": new.mean().item() if new.numel() else float("nan"),
        "parent_mean_reward": parent.mean().item() if parent.numel() else float("nan"),
    }
