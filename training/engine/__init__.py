"""The training engine: Django-free, built on TRL + PEFT.

It takes plain paths, dataclasses and callables, so a run can happen on any node from files:

    python -m training.engine dpo --data SNAPSHOT_DIR --out ADAPTER_DIR

Importing this package is cheap (configuration only); torch, transformers and TRL load when a
method module or `train` is used.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.engine.config import ConfigError, TrainConfig, load_config, preset, validate
from training.engine.schema import METHODS, DatasetStats

if TYPE_CHECKING:
    from training.engine.progress import ProgressFn, StopFn
    from training.engine.recipe import TrainResult

__all__ = [
    "METHODS",
    "Cancelled",
    "ConfigError",
    "DatasetStats",
    "ProgressEvent",
    "TrainConfig",
    "TrainResult",
    "load_config",
    "method_module",
    "preset",
    "train",
    "validate",
]

_LAZY = {
    "Cancelled": "training.engine.progress",
    "ProgressEvent": "training.engine.progress",
    "TrainResult": "training.engine.recipe",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def method_module(method: str) -> Any:
    """The module that trains `method` (each exposes `train(config, data_dir, progress)`)."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return importlib.import_module(f"training.engine.{method}")


def train(
    config: TrainConfig,
    data_dir: str | Path,
    progress: ProgressFn | None = None,
    *,
    should_stop: StopFn | None = None,
) -> TrainResult:
    """Run `config.method` on the snapshot at `data_dir`; publish to `config.output_dir`."""
    return method_module(config.method).train(config, data_dir, progress, should_stop=should_stop)
