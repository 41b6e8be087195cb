"""Loading an export snapshot into `datasets.Dataset`s, one per split.

Input contract (the export side writes exactly this):

    DIR/manifest.json      {"format": ..., "file_format": "jsonl"|"parquet",
                            "rows": {"train": N, "validation": N, "test": N}, ...}
    DIR/train.jsonl        one JSON object per line (or train.parquet: the same rows)
    DIR/validation.jsonl   optional, may be empty
    DIR/test.jsonl         optional, may be empty

Row formats by method (TRL's dataset formats, plus the export formats SFT converts):

    sft           {"messages": [{"role": ..., "content": ...}, ...]}      conversational, of
                  any number of turns: one prompt/completion row per assistant turn, so
                  the loss is on the assistant's turns only
                  or {"prompt": ..., "completion": ...}                   (strings or messages)
                  or alpaca {"instruction", "input", "output"} / dolly {"instruction",
                  "context", "response"}: turned into prompt/completion rows, so the loss
                  is on the answer (prompts.prompt_completion): conversational for a chat
                  model, the text template's prompt and the answer for a text-style one
                  or {"text": ...}: language modelling on the whole text
    reward, dpo,  {"prompt": [{"role": "user", ...}],
    orpo, rlhf     "chosen": [{"role": "assistant", ...}],
                   "rejected": [{"role": "assistant", ...}]}              or plain strings
                  rlhf with a given reward model also accepts {"prompt": ...} alone
    kto           {"prompt": [...], "completion": [...], "label": true|false}
    cpt           {"text": "..."}                                         unlabeled documents

Rows may carry extra provenance keys (prompt_id, completion_ids, ...): they are dropped before
the datasets reach TRL. CPT documents are cleaned (whitespace normalised, empties dropped),
exact duplicates removed, then tokenized and cut into fixed-length chunks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset, load_dataset

from training.engine.config import ConfigError
from training.engine.documents import clean_documents
from training.engine.prompts import CHAT, TEXT, TextTemplate, assistant_turns, prompt_completion
from training.engine.schema import (
    MAY_BE_EMPTY,
    ROW_FORMATS,
    SPLITS,
    DatasetStats,
    describe_formats,
    detect_row_format,
    missing_columns,
)

FILE_SUFFIXES = (".jsonl", ".parquet")
# Export formats SFT reads as a prompt and an answer: (instruction, input, answer) columns.
INSTRUCTION_FORMATS = {
    "alpaca": ("instruction", "input", "output"),
    "dolly": ("instruction", "context", "response"),
}


class DataError(ConfigError):
    """The snapshot cannot feed the method; the message names the file and what is wrong."""


@dataclass
class Snapshot:
    data_dir: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    row_format: str
    splits: dict[str, Dataset] = field(default_factory=dict)
    stats: DatasetStats = field(default_factory=DatasetStats)

    @property
    def conversational(self) -> bool:
        return self.stats.conversational


def load_snapshot(
    data_dir: str | Path, method: str, *, text_template: TextTemplate | None = None
) -> Snapshot:
    """Every non-empty split of the snapshot, reduced to the columns `method` uses.

    `text_template`: the model is text-style (no chat template); alpaca and dolly rows are
    rendered through it. None: they become conversational rows for the chat template.
    """
    data_dir = Path(data_dir)
    manifest, raw_manifest = _read_manifest(data_dir)
    stats = DatasetStats(data_dir=str(data_dir), export_format=manifest.get("format"))
    splits: dict[str, Dataset] = {}
    train_format: str | None = None
    for split in SPLITS:
        path = split_file(data_dir, split, manifest.get("file_format"))
        stats.files[split] = path.name
        loaded = _load_split(path, method, train_format, stats, split, text_template)
        if loaded is not None:
            splits[split], row_format = loaded
            train_format = train_format or row_format
        stats.rows[split] = len(splits[split]) if split in splits else 0
        if method == "sft" and train_format == "messages" and split in splits:
            splits[split] = _as_assistant_turns(splits[split])

    if "train" not in splits:
        raise DataError(
            f"{data_dir / stats.files['train']} is missing or empty: nothing to train on"
        )
    train = splits["train"]
    stats.row_format = train_format
    stats.conversational = _is_conversational(train[0])
    if "label" in train.column_names:
        stats.desirable = sum(1 for label in train["label"] if label)
        stats.undesirable = len(train) - stats.desirable
    if method == "cpt":
        _clean_cpt_splits(splits, stats, data_dir)
    return Snapshot(
        data_dir=data_dir,
        manifest=manifest,
        manifest_sha256=hashlib.sha256(raw_manifest).hexdigest(),
        row_format=train_format or "",
        splits=splits,
        stats=stats,
    )


def _read_manifest(data_dir: Path) -> tuple[dict[str, Any], bytes]:
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.is_file():
        raise DataError(f"{data_dir} is not a snapshot directory: manifest.json is missing")
    raw = manifest_path.read_bytes()
    try:
        manifest = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"{manifest_path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{manifest_path} must hold a JSON object")
    return manifest, raw


def split_file(data_dir: Path, split: str, file_format: str | None = None) -> Path:
    """The split's file: the manifest's file format first, then whichever exists; the JSON
    Lines name when there is none (the error messages name it)."""
    suffixes = sorted(FILE_SUFFIXES, key=lambda suffix: suffix != f".{file_format}")
    for suffix in suffixes:
        path = data_dir / f"{split}{suffix}"
        if path.is_file():
            return path
    return data_dir / f"{split}{suffixes[0]}"


def _load_split(
    path: Path,
    method: str,
    train_format: str | None,
    stats: DatasetStats,
    split: str,
    text_template: TextTemplate | None,
) -> tuple[Dataset, str] | None:
    """One split with only its format's columns; held-out splits must share train's format."""
    dataset = _read_split(path)
    if dataset is None:
        return None
    stats.columns[split] = list(dataset.column_names)
    row_format = detect_row_format(method, dataset.column_names)
    if row_format is None:
        missing = missing_columns(method, dataset.column_names)
        raise DataError(
            f"{path}: method {method} needs columns {describe_formats(method)}; "
            f"missing column(s): {', '.join(missing)}"
        )
    if train_format is not None and row_format != train_format:
        if not set(ROW_FORMATS[method][train_format]) <= set(dataset.column_names):
            raise DataError(
                f"{path}: rows are in the {row_format} format but the train split is in the "
                f"{train_format} format; all splits must share one"
            )
        row_format = train_format
    needed = ROW_FORMATS[method][row_format]
    dataset = dataset.select_columns(list(needed))
    if method != "cpt":  # CPT drops empty documents while cleaning instead
        _check_values(path, dataset, needed)
    if "label" in needed:
        dataset = dataset.map(lambda row: {"label": bool(row["label"])})
    if row_format in INSTRUCTION_FORMATS:
        dataset = _as_prompt_completion(dataset, INSTRUCTION_FORMATS[row_format], text_template)
    return dataset, row_format


def _as_prompt_completion(
    dataset: Dataset, columns: tuple[str, str, str], text_template: TextTemplate | None
) -> Dataset:
    """Alpaca/Dolly rows as prompt/completion rows: the prompt is what generation sends
    (prompts.prompt_completion: a user turn, or the text template's prompt), so SFTTrainer
    puts the loss on the answer only and the model learns the prompt it is served."""
    instruction, input_text, answer = columns
    style = CHAT if text_template is None else TEXT

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        return prompt_completion(
            style,
            text_template,
            instruction=str(row[instruction]),
            input=str(row[input_text] or ""),
            output=str(row[answer]),
        )

    return dataset.map(convert, remove_columns=list(columns))


def _as_assistant_turns(dataset: Dataset) -> Dataset:
    """Conversations as one prompt/completion row per assistant turn
    (prompts.assistant_turns): the loss falls on what the assistant said, every turn of it,
    and never on the user's or system's words."""
    rows = [row for messages in dataset["messages"] for row in assistant_turns(messages)]
    return Dataset.from_list(rows)


def _clean_cpt_splits(splits: dict[str, Dataset], stats: DatasetStats, data_dir: Path) -> None:
    for split, dataset in list(splits.items()):
        cleaned, empty, duplicates = clean_documents(list(dataset["text"]))
        if split == "train":
            stats.empty_removed, stats.duplicates_removed = empty, duplicates
        if cleaned:
            splits[split] = Dataset.from_dict({"text": cleaned})
        else:
            del splits[split]
        stats.rows[split] = len(cleaned)
    if "train" not in splits:
        raise DataError(
            f"{data_dir / stats.files['train']}: every document is empty after cleaning"
        )


def _read_split(path: Path) -> Dataset | None:
    """The rows of a .jsonl or .parquet file; None when it is absent or holds none (an empty
    split of a Parquet export is an empty file)."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    builder = "parquet" if path.suffix == ".parquet" else "json"
    if builder == "json" and not path.read_text(encoding="utf-8").strip():
        return None
    try:
        dataset = load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:  # datasets wraps parse errors in several exception types
        kind = "Parquet" if builder == "parquet" else "JSON lines"
        raise DataError(f"{path} could not be read as {kind}: {exc}") from None
    return dataset if len(dataset) else None


def _check_values(path: Path, dataset: Dataset, needed: tuple[str, ...]) -> None:
    for column in needed:
        for index, value in enumerate(dataset[column]):
            if column in MAY_BE_EMPTY:  # an instruction without an input
                continue
            if value is None or (column != "label" and value in ("", [])):
                raise DataError(f"{path}: row {index + 1} has an empty {column!r}")
            if column == "label" and value not in (True, False):  # also admits 0 and 1
                raise DataError(f"{path}: row {index + 1} has label {value!r}; use true or false")


def _is_conversational(row: dict[str, Any]) -> bool:
    for key in ("messages", "prompt", "chosen", "completion"):
        value = row.get(key)
        if isinstance(value, list) and value and isinstance(value[0], dict) and "role" in value[0]:
            return True
    return False


# --- continued pre-training documents -----------------------------------------------------------


def chunk_token_ids(documents: list[list[int]], chunk_length: int, eos_id: int) -> list[list[int]]:
    """Documents joined with EOS and cut into `chunk_length` pieces.

    The short tail is kept (if it has at least 2 tokens, enough for one next-token target) so a
    small corpus is not dropped whole.
    """
    stream: list[int] = []
    for ids in documents:
        stream.extend(ids)
        stream.append(eos_id)
    chunks = [stream[i : i + chunk_length] for i in range(0, len(stream), chunk_length)]
    if chunks and len(chunks[-1]) < 2:
        chunks.pop()
    return chunks


def tokenize_and_chunk(dataset: Dataset, tokenizer: Any, chunk_length: int) -> Dataset:
    """A dataset of `input_ids` chunks ready for causal-LM training."""
    ids = tokenizer(list(dataset["text"]), add_special_tokens=False)["input_ids"]
    eos_id = tokenizer.eos_token_id
    if eos_id is None:
        raise DataError("the tokenizer has no EOS token to separate documents")
    return Dataset.from_dict({"input_ids": chunk_token_ids(ids, chunk_length, eos_id)})
