"""Tiny snapshot directories in the export contract's format (see training/engine/data.py)."""

from __future__ import annotations

import json
from pathlib import Path

TOPICS = [
    "tea",
    "rivers",
    "bicycles",
    "owls",
    "bread",
    "chess",
    "rain",
    "maps",
    "clocks",
    "bees",
    "glass",
    "ships",
    "salt",
    "kites",
    "moss",
    "violins",
    "lamps",
    "frost",
    "wool",
    "comets",
    "ink",
    "caves",
    "tides",
    "ferns",
    "copper",
    "sparrows",
    "lanterns",
    "dunes",
    "orchards",
    "bridges",
    "pearls",
    "storms",
]

# Short texts: the tiny model's cost is the 49k-token LM head, linear in sequence length.
CHOSEN_STYLE = "Sure! {t} are lovely."
REJECTED_STYLE = "no. zzz {t}"


def user(text: str) -> list[dict]:
    """A user turn after a short system turn (the template's default one is ~20 tokens)."""
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def preference_rows(n: int, offset: int = 0, plain: bool = False) -> list[dict]:
    """Pairs where the chosen answer always has one consistent, friendly style.

    `plain`: TRL's standard (string) format instead of conversational messages.
    """
    rows = []
    for i in range(n):
        t = TOPICS[(i + offset) % len(TOPICS)]
        chosen, rejected = CHOSEN_STYLE.format(t=t), REJECTED_STYLE.format(t=t)
        rows.append(
            {
                "prompt": f"About {t}? " if plain else user(f"About {t}?"),
                "chosen": chosen if plain else assistant(chosen),
                "rejected": rejected if plain else assistant(rejected),
                "prompt_id": 100 + i,  # provenance keys the engine must drop
                "completion_ids": [2 * i, 2 * i + 1],
            }
        )
    return rows


def sft_rows(n: int, offset: int = 0) -> list[dict]:
    rows = []
    for i in range(n):
        t = TOPICS[(i + offset) % len(TOPICS)]
        rows.append(
            {
                "messages": user(f"About {t}?") + assistant(CHOSEN_STYLE.format(t=t)),
                "demonstration_id": i,
            }
        )
    return rows


def kto_rows(
    n_desirable: int, n_undesirable: int, offset: int = 0, plain: bool = False
) -> list[dict]:
    def prompt(t):
        return f"About {t}? " if plain else user(f"About {t}?")

    def answer(text):
        return text if plain else assistant(text)

    rows = []
    for i in range(max(n_desirable, n_undesirable)):
        t = TOPICS[(i + offset) % len(TOPICS)]
        if i < n_desirable:
            rows.append(
                {
                    "prompt": prompt(t),
                    "completion": answer(CHOSEN_STYLE.format(t=t)),
                    "label": True,
                    "judgement_id": i,
                }
            )
        if i < n_undesirable:
            rows.append(
                {
                    "prompt": prompt(t),
                    "completion": answer(REJECTED_STYLE.format(t=t)),
                    "label": False,
                    "judgement_id": 1000 + i,
                }
            )
    return rows


def cpt_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        rows.append(
            {"text": f"  The field notes on {t}.\n\n\n\n{t.capitalize()} are   studied here. " * 3}
        )
    rows.append({"text": "   \n\t "})  # empty after cleaning
    rows.append(dict(rows[0]))  # exact duplicate
    return rows


def write_snapshot(
    directory: Path,
    train: list[dict],
    validation: list[dict] | None = None,
    test: list[dict] | None = None,
    fmt: str = "preference",
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    splits = {"train": train, "validation": validation or [], "test": test or []}
    for split, rows in splits.items():
        with (directory / f"{split}.jsonl").open("w") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")
    manifest = {"format": fmt, "rows": {k: len(v) for k, v in splits.items()}, "seed": 0}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory
