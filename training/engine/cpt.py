"""Continued pre-training on unlabeled domain documents: causal-LM loss on every token.

Documents are cleaned and deduplicated when the snapshot loads (data.py), then tokenized,
joined with EOS and cut into chunks of `cpt.chunk_length` tokens (capped by the model's context
length). SFTTrainer takes the pre-tokenized chunks as they are.
Held-out evaluation: loss and perplexity on the validation documents' chunks, and the parent
version's loss on the same chunks; with `eval_generation_rows`, each held-out document's opening
is continued greedily by the new model and the parent, and ROUGE-L / BLEU score the
continuations against the document's own text.
"""

from __future__ import annotations

import math
from pathlib import Path

from transformers import AutoConfig
from trl import SFTConfig, SFTTrainer

from training.engine import evaluation, ranks, recipe
from training.engine.config import TrainConfig
from training.engine.data import tokenize_and_chunk
from training.engine.progress import ProgressFn, StopFn

METHOD = "cpt"


def chunk_length_for(config: TrainConfig) -> int:
    """cpt.chunk_length, capped by the base model's context length."""
    model_config = AutoConfig.from_pretrained(config.base_model)
    context = getattr(model_config, "max_position_embeddings", None) or config.cpt.chunk_length
    return min(config.cpt.chunk_length, int(context))


def train(
    config: TrainConfig,
    data_dir: str | Path,
    progress: ProgressFn | None = None,
    *,
    should_stop: StopFn | None = None,
) -> recipe.TrainResult:
    snapshot, out = recipe.begin(config, METHOD, data_dir)
    tokenizer = recipe.load_tokenizer(config.base_model)
    chunk_length = chunk_length_for(config)
    train_chunks = tokenize_and_chunk(snapshot.splits["train"], tokenizer, chunk_length)
    eval_docs = recipe.held_out(snapshot, config)
    eval_chunks = tokenize_and_chunk(eval_docs, tokenizer, chunk_length) if eval_docs else None
    model, peft_config = recipe.load_policy(config)
    callback = recipe.progress_callback(progress, should_stop)

    with recipe.scratch_dir(out) as work:
        args = SFTConfig(**recipe.trainer_args(config, work), max_length=chunk_length)
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=train_chunks,
            eval_dataset=eval_chunks if eval_chunks is not None and len(eval_chunks) else None,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[callback],
        )
        recipe.run(trainer, callback)
        metrics = recipe.final_metrics(callback)
        metrics.update(
            {
                "chunks": float(len(train_chunks)),
                "chunk_length": float(chunk_length),
                "documents": float(snapshot.stats.rows["train"]),
                "duplicates_removed": float(snapshot.stats.duplicates_removed),
                "empty_removed": float(snapshot.stats.empty_removed),
            }
        )
        if trainer.eval_dataset is not None:
            eval_loss = float(trainer.evaluate()["eval_loss"])
            metrics.update(
                {"eval_loss": eval_loss, "eval_perplexity": math.exp(min(eval_loss, 50.0))}
            )
            # The losses are every process's together (the trainer's); answers, the main's.
            refs = (
                evaluation.held_out_references(eval_docs, tokenizer, config)
                if ranks.is_main()
                else None
            )
            metrics.update(evaluation.compare_with_parent(trainer, tokenizer, config, refs))

    return recipe.finish(config, snapshot, out, trainer, tokenizer, metrics, [callback])
