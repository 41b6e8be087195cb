"""Held-out evaluation: preference accuracy and margins, label accuracy, generation overlap
(ROUGE-L, BLEU), a reward model's win rate of new over parent completions, and the figures of
the comparison with the parent version that the publish gate reads (training.engine.gate).

    metrics   pure functions over tensors and strings (tested on hand-computed values)
    scoring   a model's log-probabilities, reward scores and greedy generations of rows
    reports   the metrics dict of each method's held-out split
    generation  held-out prompts answered by the new model and its parent: ROUGE-L and BLEU

The names below are the package's API; method modules call `evaluation.<name>`.
"""

from training.engine.evaluation.generation import (
    References,
    compare_with_parent,
    document_references,
    generation_metrics,
    held_out_references,
    overlap_metrics,
    sft_references,
)
from training.engine.evaluation.metrics import (
    bleu,
    implicit_rewards,
    label_accuracy,
    label_agreement,
    mean_margin,
    preference_accuracy,
    preference_vs_parent,
    rouge_l,
    sequence_logps,
    win_rate,
)
from training.engine.evaluation.reports import (
    policy_label_metrics,
    policy_preference_metrics,
    preference_vs_parent_metrics,
    reward_preference_metrics,
    reward_win_rate,
)
from training.engine.evaluation.scoring import (
    PARENT_ADAPTER,
    completion_logps,
    encode_completions,
    greedy_completions,
    pair_logps,
    parent_policy,
    reference_of,
    reward_scores,
    trainer_loss,
)
from training.engine.prompts import completion_text, prompt_text

__all__ = [
    "PARENT_ADAPTER",
    "References",
    "bleu",
    "compare_with_parent",
    "completion_logps",
    "completion_text",
    "document_references",
    "encode_completions",
    "generation_metrics",
    "greedy_completions",
    "held_out_references",
    "implicit_rewards",
    "label_accuracy",
    "label_agreement",
    "mean_margin",
    "overlap_metrics",
    "pair_logps",
    "parent_policy",
    "policy_label_metrics",
    "policy_preference_metrics",
    "preference_accuracy",
    "preference_vs_parent",
    "preference_vs_parent_metrics",
    "prompt_text",
    "reference_of",
    "reward_preference_metrics",
    "reward_scores",
    "reward_win_rate",
    "rouge_l",
    "sequence_logps",
    "sft_references",
    "trainer_loss",
    "win_rate",
]
