"""Scoring rows with a model: tokenizing prompts and completions, forward passes for
log-probabilities and reward scores, greedy generation, and the parent version's policy to
score beside the trained one.

Rows are rendered for the tokenizer by training.engine.prompts, the same functions that
shape the exports and the generation requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from training.engine.evaluation.metrics import common_prefix, sequence_logps
from training.engine.prompts import full_text, prompt_text

if TYPE_CHECKING:
    from training.engine.config import TrainConfig

PARENT_ADAPTER = "parent"


def encode_completions(
    tokenizer: Any, prompts: Sequence[Any], completions: Sequence[Any], max_length: int
) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask and a mask over completion tokens only."""
    rows = []
    for prompt, completion in zip(prompts, completions, strict=True):
        prompt_ids = tokenizer(prompt_text(tokenizer, prompt), add_special_tokens=False)[
            "input_ids"
        ]
        full_ids = tokenizer(full_text(tokenizer, prompt, completion), add_special_tokens=False)[
            "input_ids"
        ][:max_length]
        rows.append((full_ids, common_prefix(prompt_ids, full_ids)))
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


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """`model` in eval mode for the block, then back to the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


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


def pair_logps(
    model: Any, tokenizer: Any, dataset: Any, *, max_length: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(chosen | prompt) and log p(rejected | prompt) of each held-out pair."""
    prompts = list(dataset["prompt"])
    return tuple(
        completion_logps(model, tokenizer, prompts, list(dataset[c]), max_length=max_length)
        for c in ("chosen", "rejected")
    )


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
        texts = [full_text(tokenizer, p, c) for p, c in zip(prompts, completions, strict=True)]
    device = _device(reward_model)
    scores = []
    with eval_mode(reward_model):
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
        with eval_mode(model):
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


# --- the reference and the parent policies -------------------------------------------------------


@contextlib.contextmanager
def reference_of(model: Any) -> Iterator[Any]:
    """The reference policy of a LoRA-trained model: the same model with its adapter disabled,
    or switched to TRL's frozen "ref" copy of the parent's adapter in a run that continued it."""
    if "ref" not in (getattr(model, "peft_config", None) or {}):
        with model.disable_adapter():
            yield model
        return
    own = model.active_adapter
    model.set_adapter("ref")
    try:
        yield model
    finally:
        model.set_adapter(own)


def reference(model: Any, ref_model: Any) -> contextlib.AbstractContextManager[Any]:
    """`ref_model` when there is one, else `model` with its adapter disabled."""
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
    if not _is_peft(model):
        yield _load_parent(config)
    elif not config.parent_adapter:
        with model.disable_adapter():
            yield model
    else:
        own = model.active_adapter
        model.load_adapter(config.parent_adapter, adapter_name=PARENT_ADAPTER)
        try:
            model.set_adapter(PARENT_ADAPTER)
            yield model
        finally:
            model.set_adapter(own)
            model.delete_adapter(PARENT_ADAPTER)


def _load_parent(config: TrainConfig) -> Any:
    """A fresh copy of the parent: the base model, the parent's adapter merged into it."""
    from training.engine.recipe import evaluation_model, load_causal_lm

    parent = load_causal_lm(config.base_model)
    if config.parent_adapter:
        from peft import PeftModel

        parent = PeftModel.from_pretrained(parent, config.parent_adapter).merge_and_unload()
    return evaluation_model(parent)


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
