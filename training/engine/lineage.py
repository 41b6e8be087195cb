"""Where a run starts: its parent version's LoRA adapter, or the base model.

A run from an adapter version continues that adapter by default (`init_from_parent`): the
parent's weights initialize the new adapter, so CPT -> SFT -> DPO ends as one LoRA that has
seen all three, and DPO and KTO score against the parent (TRL copies the adapter it is given
into a frozen "ref" adapter and uses that as the reference). The result is still one LoRA on
the base model, so it hot-loads into vLLM as before; to be that, it keeps the parent's shape.
No torch here: the web app checks a configuration with it before queueing a run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ADAPTER_CONFIG = "adapter_config.json"
# TrainConfig field -> the adapter_config.json key it must equal when a run continues its parent.
SHAPE_FIELDS = {"lora_r": "r", "lora_alpha": "lora_alpha", "lora_target_modules": "target_modules"}
# What a run started from, as meta.json's "started_from.init" says it.
FROM_PARENT_ADAPTER = "parent_adapter"
FROM_PARENT_MERGED = "parent_merged"
FROM_BASE_MODEL = "base_model"


def continues_parent(config: Any) -> bool:
    """A LoRA run whose new adapter starts as a copy of the parent's."""
    return bool(config.lora and config.init_from_parent and config.parent_adapter)


def starts_from_parent(config: Any) -> bool:
    """Continued (LoRA), or a full fine-tune of the parent's adapter merged into the base."""
    return bool(config.init_from_parent and config.parent_adapter)


def parent_shape(adapter_dir: str | Path) -> dict[str, Any]:
    """The parent adapter's rank, alpha and target modules, keyed like TrainConfig's fields."""
    raw = json.loads((Path(adapter_dir) / ADAPTER_CONFIG).read_text())
    shape = {field: raw.get(key) for field, key in SHAPE_FIELDS.items()}
    shape["lora_target_modules"] = sorted(shape["lora_target_modules"] or [])
    return shape


def shape_problems(config: Any) -> list[str]:
    """Why `config` cannot continue its parent's adapter (a different rank, say), if it can't."""
    if not continues_parent(config):
        return []
    if not (Path(config.parent_adapter) / ADAPTER_CONFIG).is_file():
        return [
            f"the parent adapter {config.parent_adapter} has no {ADAPTER_CONFIG}: restore it, or "
            "set init_from_parent to false to train a fresh adapter on the base model"
        ]
    problems = []
    for name, parent_value in parent_shape(config.parent_adapter).items():
        asked = getattr(config, name)
        if name == "lora_target_modules":
            asked = sorted(asked)
        if asked != parent_value:
            problems.append(
                f"{name} is {asked} but the parent's adapter has {parent_value}: a run that "
                f"continues its parent keeps the parent's {name} (set {name} to "
                f"{parent_value}, or init_from_parent to false to start from the base model)"
            )
    return problems


def adopt_parent_shape(config: Any, *, keep: set[str]) -> None:
    """Give a continuing `config` the parent's shape, except the fields the admin set (`keep`),
    which shape_problems then checks."""
    if not continues_parent(config) or not (Path(config.parent_adapter) / ADAPTER_CONFIG).is_file():
        return
    for name, value in parent_shape(config.parent_adapter).items():
        if name not in keep and value not in (None, []):
            setattr(config, name, value)


def started_from(config: Any, *, reference: bool = False) -> dict[str, Any]:
    """meta.json's record of what the run started from, and what its reference was.

    `reference`: the method trains against a reference policy (DPO, KTO).
    """
    if continues_parent(config):
        init = FROM_PARENT_ADAPTER
    elif starts_from_parent(config):
        init = FROM_PARENT_MERGED
    else:
        init = FROM_BASE_MODEL
    record: dict[str, Any] = {
        "init": init,
        "parent_adapter": str(Path(config.parent_adapter).resolve())
        if init != FROM_BASE_MODEL
        else None,
        "base_model": str(Path(config.base_model).resolve()),
    }
    if reference:
        record["reference"] = "parent" if init != FROM_BASE_MODEL else "base_model"
    return record
