"""The figures of held-out evaluation as small pure functions over tensors and strings.

No model here: each function is unit-tested on tiny hand-computed tensors
(tests/training/engine/test_metrics.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def sequence_logps(
    logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Sum of log p(token | prefix) over positions where `mask` is 1, per sequence.

    logits [B, T, V] predict the next token, so position t scores input_ids[t + 1].
    """
    logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    targets = input_ids[:, 1:]
    token_logps = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (token_logps * mask[:, 1:].to(token_logps.dtype)).sum(-1)


def implicit_rewards(
    policy_logps: torch.Tensor, ref_logps: torch.Tensor, beta: float
) -> torch.Tensor:
    """DPO's implicit reward: beta * (log pi(y|x) - log pi_ref(y|x))."""
    return beta * (policy_logps - ref_logps)


def preference_accuracy(chosen_scores: torch.Tensor, rejected_scores: torch.Tensor) -> float:
    """Fraction of pairs whose chosen score is strictly above the rejected one (ties lose)."""
    if chosen_scores.numel() == 0:
        return float("nan")
    return (chosen_scores > rejected_scores).float().mean().item()


def mean_margin(chosen_scores: torch.Tensor, rejected_scores: torch.Tensor) -> float:
    """Mean of chosen minus rejected scores; NaN when there are no pairs."""
    if chosen_scores.numel() == 0:
        return float("nan")
    return (chosen_scores - rejected_scores).float().mean().item()


def win_rate(new_scores: torch.Tensor, parent_scores: torch.Tensor) -> float:
    """Fraction of prompts where the new completion scores higher; a tie counts half."""
    if new_scores.numel() == 0:
        return float("nan")
    wins = (new_scores > parent_scores).float() + 0.5 * (new_scores == parent_scores).float()
    return wins.mean().item()


def label_accuracy(rewards: torch.Tensor, labels: torch.Tensor) -> float:
    """KTO: fraction of completions whose implicit reward has the sign of their label."""
    if rewards.numel() == 0:
        return float("nan")
    return ((rewards > 0) == labels.bool()).float().mean().item()


def label_agreement(rewards: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of completions whose reward has the sign of their label; zero counts half.

    With rewards relative to the parent, an unchanged model scores exactly 0.5.
    """
    if rewards.numel() == 0:
        return float("nan")
    sign = torch.where(labels.bool(), rewards, -rewards)
    return ((sign > 0).float() + 0.5 * (sign == 0).float()).mean().item()


def label_margin(rewards: torch.Tensor, labels: torch.Tensor) -> float | None:
    """Mean reward of desirable minus undesirable completions; None unless both are present."""
    labels = labels.bool()
    if not (labels.any() and (~labels).any()):
        return None
    return (rewards[labels].mean() - rewards[~labels].mean()).item()


def preference_vs_parent(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    parent_chosen: torch.Tensor,
    parent_rejected: torch.Tensor,
) -> dict[str, float]:
    """How the new policy moved from its parent on held-out pairs, in log-probabilities.

    The implicit reward relative to the parent, r(y) = log pi_new(y|x) - log pi_parent(y|x),
    is DPO's with the parent as reference and beta = 1. Accuracy: fraction of pairs with
    r(chosen) > r(rejected), a tie counting half (the parent against itself scores 0.5);
    margin: mean r(chosen) - r(rejected), the change of the log-odds of chosen over rejected.
    """
    chosen = policy_chosen - parent_chosen
    rejected = policy_rejected - parent_rejected
    return {
        "eval_vs_parent_accuracy": win_rate(chosen, rejected),
        "eval_vs_parent_margin": mean_margin(chosen, rejected),
    }


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F-measure (rouge-score, with stemming)."""
    from rouge_score import rouge_scorer

    if not predictions:
        return float("nan")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    scores = [
        scorer.score(ref, pred)["rougeL"].fmeasure
        for pred, ref in zip(predictions, references, strict=True)
    ]
    return sum(scores) / len(scores)


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu, 0-100) of predictions against one reference each."""
    import sacrebleu

    if not predictions:
        return float("nan")
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading token ids two sequences share (where a completion starts)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
