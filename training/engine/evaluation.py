"""Held-out evaluation: preference accuracy and margins, label accuracy, generation overlap
(ROUGE-L, BLEU), a reward model's win rate of new over parent completions, and the figures of
the comparison with the parent version that the publish gate reads (training.engine.gate).

The math is small pure functions over tensors (tested on hand-computed values); the rest
turns rows into those tensors with a model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from training.engine.config import TrainConfig

PARENT_ADAPTER = "parent"

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


def label_agreement(rewards: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of completions whose reward has the sign of their label; zero counts half.

    With rewards relative to the parent, an unchanged model scores exactly 0.5.
    """
    if rewards.numel() == 0:
        return float("nan")
    sign = torch.where(labels.bool(), rewards, -rewards)
    return ((sign > 0).float() + 0.5 * (sign == 0).float()).mean().item()


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


def _reference(model: Any, ref_model: Any) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext(ref_model) if ref_model is not None else reference_of(model)


def _is_peft(model: Any) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


@contextlib.contextmanager
def parent_policy(model: Any, config: TrainConfig) -> Iterator[Any]:
    """The parent version's policy, to score beside `model` on the same rows.

    The parent is `config.base_model`, plus `config.parent_adapter` when it is an adapter
    version (new adapters train on the base model, so both share it). A LoRA-trained `model`
    makes no second copy: its adapter is disabled, or the parent's adapter is loaded beside it
    and made active; on exit its own adapter is active again and the parent's is deleted, so it
    is never published with it. A fully fine-tuned `model` gets a freshly loaded parent (the
    parent's adapter merged into it).
    """
    if _is_peft(model):
        if not config.parent_adapter:
            with model.disable_adapter():
                yield model
            return
        own = model.active_adapter
        model.load_adapter(config.parent_adapter, adapter_name=PARENT_ADAPTER)
        try:
            model.set_adapter(PARENT_ADAPTER)
            yield model
        finally:
            model.set_adapter(own)
            model.delete_adapter(PARENT_ADAPTER)
        return
    from training.engine.recipe import load_causal_lm

    parent = load_causal_lm(config.base_model)
    if config.parent_adapter:
        from peft import PeftModel

        parent = PeftModel.from_pretrained(parent, config.parent_adapter).merge_and_unload()
    parent.eval()
    yield parent


def trainer_loss(trainer: Any, model: Any, *, prefix: str = "eval_parent") -> float:
    """The trainer's held-out loss of `model`: the same rows, collation and loss masking as its
    `eval_loss`, logged under `prefix` (eval_parent_loss).

    `model` is the trainer's own (a LoRA parent is its adapter switched), or a plain model of
    the same architecture whose weights are lent to the trainer's model for the evaluation:
    trainers patch their model's forward (TRL's fused LM head), so swapping modules would not do.
    """

    def evaluate() -> float:
        return float(trainer.evaluate(metric_key_prefix=prefix)[f"{prefix}_loss"])

    own = trainer.model
    if model is own:
        return evaluate()
    trained = {k: v.detach().to("cpu", copy=True) for k, v in own.state_dict().items()}
    own.load_state_dict(model.state_dict())
    try:
        return evaluate()
    finally:
        own.load_state_dict(trained)


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def pair_logps(
    model: Any, tokenizer: Any, dataset: Any, *, max_length: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(chosen | prompt) and log p(rejected | prompt) of each held-out pair."""
    prompts = list(dataset["prompt"])
    return tuple(
        completion_logps(model, tokenizer, prompts, list(dataset[c]), max_length=max_length)
        for c in ("chosen", "rejected")
    )


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
    with _eval_mode(model):
        pol_c, pol_r = pair_logps(model, tokenizer, dataset, max_length=max_length)
        with _reference(model, ref_model) as ref:
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
    with _eval_mode(model):
        pol_c, pol_r = pair_logps(model, tokenizer, dataset, max_length=max_length)
        with parent as parent_model:
            par_c, par_r = pair_logps(parent_model, tokenizer, dataset, max_length=max_length)
    return {**preference_vs_parent(pol_c, pol_r, par_c, par_r), "eval_pairs": float(len(pol_c))}


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
    with _eval_mode(model):
        policy = completion_logps(model, tokenizer, prompts, completions, max_length=max_length)
        with _reference(model, ref_model) as ref:
            reference = completion_logps(
                ref, tokenizer, prompts, completions, max_length=max_length
            )
        parent_logps = reference
        if parent is not None:
            with parent as parent_model:
                parent_logps = completion_logps(
                    parent_model, tokenizer, prompts, completions, max_length=max_length
                )
    rewards = implicit_rewards(policy, reference, beta)
    metrics = {
        "eval_label_accuracy": label_accuracy(rewards, labels),
        "eval_vs_parent_label_accuracy": label_agreement(policy - parent_logps, labels),
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
