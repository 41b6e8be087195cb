"""What a snapshot row must hold for each method, and the statistics `config.validate` checks.

Kept apart from `data.py` (which loads files) so that configuration checks can name the
missing columns without importing `datasets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from training.engine.texts import gettext_noop

# The training methods, the one list of them: name (a module training.engine.<name>, and the
# value stored in TrainingRun.method) -> the label forms and the admin show, in their order.
METHOD_LABELS: dict[str, str] = {
    "cpt": gettext_noop("Continued pre-training"),
    "sft": gettext_noop("Supervised fine-tuning"),
    "reward": gettext_noop("Reward model"),
    "dpo": "DPO",
    "kto": "KTO",
    "orpo": "ORPO",
    "rlhf": gettext_noop("RLHF (reward model + RLOO/GRPO)"),
}
METHODS = tuple(METHOD_LABELS)

# The export formats (the `format` of a snapshot's manifest.json) each method trains on. A run
# on an export of another format is refused when it is created. RLHF reads preference pairs
# (its reward model is trained on them first; with a given reward model it uses their prompts).
EXPORT_FORMATS_FOR_METHOD: dict[str, tuple[str, ...]] = {
    "cpt": ("text", "documents"),
    "sft": ("alpaca", "dolly", "messages", "text"),
    "reward": ("preference",),
    "dpo": ("preference",),
    "orpo": ("preference",),
    "kto": ("kto",),
    "rlhf": ("preference",),
}

# The method that fits each export format best, preselected when training starts from an
# export; it is always one of the methods that take the format (see methods_for_export_format).
METHOD_FOR_EXPORT_FORMAT: dict[str, str] = {
    "preference": "dpo",
    "kto": "kto",
    "alpaca": "sft",
    "dolly": "sft",
    "messages": "sft",
    "text": "cpt",
    "documents": "cpt",
}

SPLITS = ("train", "validation", "test")

# trl 1.16 DPOConfig.loss_type accepts these names (see its help string).
DPO_LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)
KTO_LOSS_TYPES = ("kto", "apo_zero_unpaired")
RLHF_ALGORITHMS = ("rloo", "grpo")

MIN_MAX_LENGTH = 32

# Each method accepts one of these row formats: name -> the columns it needs. SFT turns alpaca
# and dolly rows into prompt/completion rows when it loads them (data.py), so the loss falls on
# the answer only; text rows train as language modelling on the whole text.
ROW_FORMATS: dict[str, dict[str, tuple[str, ...]]] = {
    "sft": {
        "messages": ("messages",),
        "prompt_completion": ("prompt", "completion"),
        "alpaca": ("instruction", "input", "output"),
        "dolly": ("instruction", "context", "response"),
        "text": ("text",),
    },
    "cpt": {"text": ("text",)},
    "reward": {"preference": ("prompt", "chosen", "rejected")},
    "dpo": {"preference": ("prompt", "chosen", "rejected")},
    "orpo": {"preference": ("prompt", "chosen", "rejected")},
    "kto": {"unpaired_preference": ("prompt", "completion", "label")},
    # RLHF trains its reward model on the pairs; with a given reward model, prompts suffice.
    "rlhf": {"preference": ("prompt", "chosen", "rejected"), "prompt_only": ("prompt",)},
}

# Columns that may hold an empty string (a prompt without an input or context).
MAY_BE_EMPTY = frozenset({"input", "context"})

# Below these counts a run cannot learn anything measurable; the unit is a row of the format
# (a demonstration, a preference pair, a rated completion, a document).
MIN_TRAIN_ROWS = {"sft": 2, "cpt": 1, "reward": 4, "dpo": 4, "orpo": 4, "kto": 4, "rlhf": 2}

ROW_NOUN = {
    "sft": "demonstrations",
    "cpt": "documents",
    "reward": "preference pairs",
    "dpo": "preference pairs",
    "orpo": "preference pairs",
    "kto": "rated completions",
    "rlhf": "prompts",
}


def methods_for_export_format(export_format: str) -> tuple[str, ...]:
    """The methods that train on an export of this format, in METHODS order."""
    return tuple(m for m in METHODS if export_format in EXPORT_FORMATS_FOR_METHOD[m])


def detect_row_format(method: str, columns: list[str] | tuple[str, ...]) -> str | None:
    """The first row format of `method` whose columns are all present, or None."""
    present = set(columns)
    for name, needed in ROW_FORMATS[method].items():
        if set(needed) <= present:
            return name
    return None


def missing_columns(method: str, columns: list[str] | tuple[str, ...]) -> list[str]:
    """Columns missing for the closest row format of `method` (empty when one fits)."""
    present = set(columns)
    best: list[str] | None = None
    for needed in ROW_FORMATS[method].values():
        missing = [c for c in needed if c not in present]
        if best is None or len(missing) < len(best):
            best = missing
    return best or []


def describe_formats(method: str) -> str:
    """'messages' or 'prompt, completion' — the accepted column sets, for error messages."""
    return " or ".join("{" + ", ".join(cols) + "}" for cols in ROW_FORMATS[method].values())


@dataclass
class DatasetStats:
    """What `config.validate` needs to know about a loaded snapshot."""

    data_dir: str = field(default="", metadata={"help": "Snapshot directory the stats describe."})
    export_format: str | None = field(
        default=None, metadata={"help": "The manifest's `format` (None: a hand-made snapshot)."}
    )
    files: dict[str, str] = field(
        default_factory=dict, metadata={"help": "The file read per split (.jsonl or .parquet)."}
    )
    rows: dict[str, int] = field(
        default_factory=dict, metadata={"help": "Row count per split (after cleaning)."}
    )
    columns: dict[str, list[str]] = field(
        default_factory=dict, metadata={"help": "Columns found per split, before dropping extras."}
    )
    row_format: str | None = field(
        default=None, metadata={"help": "Detected row format of the train split (see ROW_FORMATS)."}
    )
    conversational: bool = field(
        default=False, metadata={"help": "Whether rows hold role/content messages."}
    )
    desirable: int = field(default=0, metadata={"help": "KTO: train rows labelled desirable."})
    undesirable: int = field(default=0, metadata={"help": "KTO: train rows labelled undesirable."})
    duplicates_removed: int = field(
        default=0, metadata={"help": "CPT: exact duplicate documents dropped."}
    )
    empty_removed: int = field(
        default=0, metadata={"help": "CPT: documents dropped as empty after cleaning."}
    )
