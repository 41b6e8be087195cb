"""Held-out evaluation: preference accuracy and margins, label accuracy, generation overlap
(ROUGE-L, BLEU), and a reward model's win rate of new over parent completions.

The math is small pure functions over tensors (tested on hand-computed values); the rest
turns rows into those tensors with a model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch

# --- pure math -----------------------------------------------------------------------------------


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


# --- rows to tensors ---------------------------------------------------------------------------


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def prompt_text(tokenizer: Any, prompt: Any) -> str:
    """The text a model continues: the chat template with the assistant turn opened."""
    if _is_messages(prompt):
        return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    return str(prompt)


def completion_text(completion: Any) -> str:
    """The assistant's words of a completion (messages or a string)."""
    if _is_messages(completion):
        return "".join(
            str(m.get("content", "")) for m in completion if m.get("role") == "assistant"
        )
    return str(completion)


def _full_text(tokenizer: Any, prompt: Any, completion: Any) -> str:
    if _is_messages(prompt):
        if not _is_messages(completion):
            completion = [{"role": "assistant", "content": str(completion)}]
        return tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    return str(prompt) + str(completion) + (tokenizer.eos_token or "")


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def encode_completions(
    tokenizer: Any, prompts: Sequence[Any], completions: Sequence[Any], max_length: int
) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask and a mask over completion tokens only."""
    rows = []
    for prompt, completion in zip(prompts, completions, strict=True):
        prompt_ids = tokenizer(prompt_text(tokenizer, prompt), add_special_tokens=False)[
            "input_ids"
        ]
        full_ids = tokenizer(_full_text(tokenizer, prompt, completion), add_special_tokens=False)[
            "input_ids"
        ][:max_length]
        start = _common_prefix(prompt_ids, full_ids)
        rows.append((full_ids, start))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    completion_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, start) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        completion_mask[i, start : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "completion_mask": completion_mask}


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def completion_logps(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Any],
    completions: Sequence[Any],
    *,
    max_length: int = 1024,
    batch_size: int = 8,
) -> torch.Tensor:
    """log p(completion | prompt) under `model`, one value per row."""
    out = []
    device = _device(model)
    for i in range(0, len(prompts), batch_size):
        batch = encode_completions(
            tokenizer, prompts[i : i + batch_size], completions[i : i + batch_size], max_length
        )
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        out.append(sequence_logps(logits, batch["input_ids"], batch["completion_mask"]).cpu())
    return torch.cat(out) if out else torch.zeros(0)


@contextlib.contextmanager
def reference_of(model: Any) -> Iterator[Any]:
    """The reference policy of a LoRA-trained model: the same model with its adapter disabled."""
    with model.disable_adapter():
        yield model


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def policy_preference_metrics(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    beta: float,
    *,
    ref_model: Any = None,
    max_length: int = 1024,
) -> dict[str, float]:
    """Implicit-reward accuracy and mean margin of chosen over rejected on held-out pairs.

    The reference is `ref_model` when given, else `model` with its adapter disabled.
    """
    prompts, chosen, rejected = (list(dataset[c]) for c in ("prompt", "chosen", "rejected"))
    with _eval_mode(model):
        pol_c = completion_logps(model, tokenizer, prompts, chosen, max_length=max_length)
        pol_r = completion_logps(model, tokenizer, prompts, rejected, max_length=max_length)
        ref_ctx = (
            contextlib.nullcontext(ref_model) if ref_model is not None else reference_of(model)
        )
        with ref_ctx as ref:
            ref_c = completion_logps(ref, tokenizer, prompts, chosen, max_length=max_length)
            ref_r = completion_logps(ref, tokenizer, prompts, rejected, max_length=max_length)
    reward_c = implicit_rewards(pol_c, ref_c, beta)
    reward_r = implicit_rewards(pol_r, ref_r, beta)
    return {
        "eval_preference_accuracy": preference_accuracy(reward_c, reward_r),
        "eval_margin": mean_margin(reward_c, reward_r),
        "eval_chosen_reward": reward_c.mean().item(),
        "eval_rejected_reward": reward_r.mean().item(),
        "eval_pairs": float(len(prompts)),
    }


def policy_label_metrics(
    model: Any, tokenizer: Any, dataset: Any, beta: float, *, max_length: int = 1024
) -> dict[str, float]:
    """KTO held-out rows: does the implicit reward's sign match the desirable label?"""
    prompts, completions = list(dataset["prompt"]), list(dataset["completion"])
    labels = torch.tensor([bool(x) for x in dataset["label"]])
    with _eval_mode(model):
        policy = completion_logps(model, tokenizer, prompts, completions, max_length=max_length)
        with reference_of(model) as ref:
            reference = completion_logps(
                ref, tokenizer, prompts, completions, max_length=max_length
            )
    rewards = implicit_rewards(policy, reference, beta)
    metrics = {
        "eval_label_accuracy": label_accuracy(rewards, labels),
        "eval_rows": float(len(labels)),
    }
    if labels.any() and (~labels).any():
        metrics["eval_margin"] = (rewards[labels].mean() - rewards[~labels].mean()).item()
    return metrics


@torch.no_grad()
def reward_scores(
    reward_model: Any,
    tokenizer: Any,
    prompts: Sequence[Any] | None,
    completions: Sequence[Any],
    *,
    max_length: int = 1024,
    batch_size: int = 8,
) -> torch.Tensor:
    """The reward model's scalar score of each (prompt, completion), or of each text alone."""
    if prompts is None:
        texts = [str(c) for c in completions]
    else:
        texts = [_full_text(tokenizer, p, c) for p, c in zip(prompts, completions, strict=True)]
    device = _device(reward_model)
    scores = []
    with _eval_mode(reward_model):
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[i : i + batch_size],
                add_special_tokens=False,
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(device)
            logits = reward_model(**batch).logits
            scores.append(logits[:, 0].float().cpu())
    return torch.cat(scores) if scores else torch.zeros(0)


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


@torch.no_grad()
def greedy_completions(
    model: Any, tokenizer: Any, prompts: Sequence[Any], *, max_new_tokens: int, batch_size: int = 8
) -> list[str]:
    """Greedy continuations of each prompt, decoded without special tokens."""
    texts = [prompt_text(tokenizer, p) for p in prompts]
    device = _device(model)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    out: list[str] = []
    try:
        with _eval_mode(model):
            for i in range(0, len(texts), batch_size):
                batch = tokenizer(
                    texts[i : i + batch_size],
                    add_special_tokens=False,
                    padding=True,
                    return_tensors="pt",
                ).to(device)
                generated = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
                new_tokens = generated[:, batch["input_ids"].shape[1] :]
                out.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
    return [text.strip() for text in out]


def sft_references(dataset: Any) -> tuple[list[Any], list[str]]:
    """(prompts, reference answers) of SFT rows: messages up to the last assistant turn."""
    prompts, references = [], []
    if "messages" in dataset.column_names:
        for messages in dataset["messages"]:
            last = max(
                (i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None
            )
            if last is None or last == 0:
                continue
            prompts.append(messages[:last])
            references.append(str(messages[last]["content"]))
    else:
        prompts = list(dataset["prompt"])
        references = [completion_text(c) for c in dataset["completion"]]
    return prompts, references


def generation_metrics(
    model: Any, tokenizer: Any, dataset: Any, *, max_new_tokens: int
) -> dict[str, float]:
    """ROUGE-L and BLEU of greedy generations against the held-out references."""
    prompts, references = sft_references(dataset)
    if not prompts:
        return {}
    predictions = greedy_completions(model, tokenizer, prompts, max_new_tokens=max_new_tokens)
    return {
        "eval_rougeL": rouge_l(predictions, references),
        "eval_bleu": bleu(predictions, references),
        "eval_generations": float(len(predictions)),
    }
