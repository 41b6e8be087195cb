"""Publishing a trained adapter (or full weights) with its meta.json, atomically.

Everything is written into a temporary directory beside the target and renamed into place at
the end; on any exception the temporary directory is removed, so a reader never sees a
half-written model. `merge_adapter` folds an adapter into the base weights (the "restart with
merged weights" baseline).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

META_FILE = "meta.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
REPO_ROOT = Path(__file__).resolve().parents[2]


class PublishError(RuntimeError):
    """The output could not be published; nothing was left at the target."""


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temp dir beside `target`; rename it to `target` on success, delete it on error."""
    target = Path(target).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise PublishError(f"{target} already exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            target.rmdir()  # empty, checked above
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def code_version() -> str | None:
    """`git rev-parse HEAD` of the checkout the engine runs from, if it is one."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def build_meta(
    *,
    config: Any,
    base_model: str | Path,
    snapshot_dir: str | Path | None,
    manifest_sha256: str | None,
    metrics: dict[str, Any],
    kind: str,
    task: str = "causal_lm",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The small JSON that travels beside the weights (nanochat's checkpoint metadata)."""
    return {
        "kind": kind,  # "adapter" or "full"
        "task": task,  # "causal_lm" or "reward_model"
        "method": getattr(config, "method", None),
        "base_model": str(Path(base_model).resolve()),
        "snapshot": {
            "path": str(Path(snapshot_dir).resolve()) if snapshot_dir else None,
            "manifest_sha256": manifest_sha256,
        },
        "config": asdict(config) if is_dataclass(config) else config,
        "metrics": metrics,
        "code_version": code_version(),
        "libraries": library_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")


def save_weights(model: Any, directory: Path, tokenizer: Any = None) -> str:
    """Save an adapter (PEFT model) or full weights (+ tokenizer); return the kind."""
    model.save_pretrained(str(directory), safe_serialization=True)
    if all((directory / name).is_file() for name in ADAPTER_FILES):
        return "adapter"
    if tokenizer is not None:
        tokenizer.save_pretrained(str(directory))
    return "full"


def publish(
    target: str | Path,
    model: Any,
    meta: dict[str, Any],
    *,
    tokenizer: Any = None,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write weights, meta.json and anything `extra(tmp_dir)` adds to `target`, atomically."""
    target = Path(target).resolve()
    with atomic_directory(target) as tmp:
        kind = save_weights(model, tmp, tokenizer)
        if extra is not None:
            extra(tmp)
        write_meta(tmp, {**meta, "kind": kind})
    return target


def read_meta(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / META_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def adapter_base_model(adapter_dir: str | Path) -> str:
    """The base model an adapter was trained on: meta.json first, adapter_config.json second."""
    meta = read_meta(adapter_dir)
    if meta.get("base_model"):
        return str(meta["base_model"])
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    return str(config["base_model_name_or_path"])


def merge_adapter(
    adapter_dir: str | Path, out_dir: str | Path, base_model: str | Path | None = None
) -> Path:
    """Fold a LoRA adapter into its base weights and save a full model directory."""
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise PublishError(f"{adapter_dir} holds no adapter_config.json")
    base = str(base_model or adapter_base_model(adapter_dir))
    # Merge in float32 so small LoRA deltas survive, then store in the base's own dtype.
    stored_dtype = getattr(AutoConfig.from_pretrained(base), "dtype", None)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    if isinstance(stored_dtype, torch.dtype):
        merged = merged.to(stored_dtype)
    tokenizer = AutoTokenizer.from_pretrained(base)
    meta = read_meta(adapter_dir)
    with atomic_directory(out_dir) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        write_meta(
            tmp,
            {
                **meta,
                "kind": "full",
                "merged_from": str(adapter_dir.resolve()),
                "base_model": str(Path(base).resolve()),
                "code_version": code_version(),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    return Path(out_dir).resolve()
