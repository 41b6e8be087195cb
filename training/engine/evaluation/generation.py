"""Held-out generation: the new model and its parent answer the same held-out prompts greedily,
and ROUGE-L and BLEU score both against the references, so the run page and the publish gate
(`gate_metric` rouge_l or bleu) compare like with like.

References come from SFT rows (the prompt up to the last assistant turn, and that turn) and,
for CPT, from documents (a document's opening as the prompt, the text that follows it as the
reference). Plain-text SFT rows hold no prompt to answer and give none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from training.engine.evaluation.metrics import bleu, rouge_l
from training.engine.evaluation.scoring import greedy_completions, parent_policy, trainer_loss
from training.engine.prompts import completion_text

if TYPE_CHECKING:
    from training.engine.config import TrainConfig

# A document's opening given as the prompt: at most this many tokens, and at most half of it.
DOCUMENT_PREFIX_TOKENS = 32
# A document needs at least this many tokens to give both an opening and a continuation.
MIN_DOCUMENT_TOKENS = 8


@dataclass(frozen=True)
class References:
    """Held-out prompts and the answer each should get (one reference per prompt)."""

    prompts: list[Any]
    references: list[str]

    def __len__(self) -> int:
        return len(self.prompts)

    def first(self, n: int) -> References:
        return References(self.prompts[:n], self.references[:n])


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
    elif "prompt" in dataset.column_names:
        prompts = list(dataset["prompt"])
        references = [completion_text(c) for c in dataset["completion"]]
    return prompts, references


def document_references(
    texts: Sequence[str], tokenizer: Any, *, continuation_tokens: int
) -> References:
    """Each document's opening (up to DOCUMENT_PREFIX_TOKENS tokens, at most half of it) as a
    plain-text prompt, and the next `continuation_tokens` tokens as its reference: what a model
    that learnt the domain's text should continue it with."""
    prompts, references = [], []
    for text in texts:
        ids = tokenizer(str(text), add_special_tokens=False)["input_ids"]
        if len(ids) < MIN_DOCUMENT_TOKENS:
            continue
        cut = min(DOCUMENT_PREFIX_TOKENS, len(ids) // 2)
        reference = tokenizer.decode(ids[cut : cut + continuation_tokens]).strip()
        if reference:
            prompts.append(tokenizer.decode(ids[:cut]))
            references.append(reference)
    return References(prompts, references)


def held_out_references(dataset: Any, tokenizer: Any, config: TrainConfig) -> References | None:
    """The held-out prompts the new model and its parent answer: the first
    `eval_generation_rows` of the split that have a reference; None when generation is off or
    no row has one."""
    if dataset is None or not config.eval or config.eval_generation_rows <= 0:
        return None
    if config.method == "cpt":
        refs = document_references(
            dataset["text"], tokenizer, continuation_tokens=config.eval_max_new_tokens
        )
    else:
        refs = References(*sft_references(dataset))
    refs = refs.first(config.eval_generation_rows)
    return refs if len(refs) else None


def overlap_metrics(
    predictions: Sequence[str], references: Sequence[str], *, prefix: str = "eval"
) -> dict[str, float]:
    """ROUGE-L (0-1) and BLEU (0-100) of predictions against their references."""
    return {
        f"{prefix}_rouge_l": rouge_l(predictions, references),
        f"{prefix}_bleu": bleu(predictions, references),
    }


def generation_metrics(
    model: Any, tokenizer: Any, refs: References, *, max_new_tokens: int, prefix: str = "eval"
) -> dict[str, float]:
    """ROUGE-L and BLEU of `model`'s greedy answers to the held-out prompts."""
    predictions = greedy_completions(model, tokenizer, refs.prompts, max_new_tokens=max_new_tokens)
    return overlap_metrics(predictions, refs.references, prefix=prefix)


def compare_with_parent(
    trainer: Any, tokenizer: Any, config: TrainConfig, refs: References | None
) -> dict[str, float]:
    """The new model's held-out ROUGE-L/BLEU, then the parent's loss and ROUGE-L/BLEU on the
    same rows and prompts, with one parent policy for both (a full fine-tune's parent is
    loaded once): eval_rouge_l, eval_bleu, eval_parent_loss, eval_parent_rouge_l, ...

    Under a launcher every process calls it (the losses are the trainer's evaluation, which
    they run together) and only the main one passes `refs`: the others generate nothing.
    """
    metrics: dict[str, float] = {}
    tokens = config.eval_max_new_tokens
    if refs is not None:
        metrics.update(generation_metrics(trainer.model, tokenizer, refs, max_new_tokens=tokens))
        metrics["eval_generations"] = float(len(refs))
    with parent_policy(trainer.model, config) as parent:
        metrics["eval_parent_loss"] = trainer_loss(trainer, parent)
        if refs is not None:
            metrics.update(
                generation_metrics(
                    parent, tokenizer, refs, max_new_tokens=tokens, prefix="eval_parent"
                )
            )
    return metrics
