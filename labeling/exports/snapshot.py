"""Writing an export snapshot: one file per split, streamed, hashed, and made visible atomically.

Rows are written into a hidden temporary directory beside the final one; only when every file
is complete and the manifest written is it renamed into place, so an interrupted export leaves
no half-written snapshot (the temporary directory is removed on any exception; one left by a
killed process is removed when its export is declared stale, see dataset_exports_fail_stale).
"""

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path

import orjson

from labeling.exports.split import SPLITS

PARQUET_BATCH_ROWS = 10_000


class _JsonlSplitWriter:
    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._file = path.open("wb", buffering=1 << 20)

    def write(self, row: dict) -> None:
        self._file.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        self.rows += 1

    def close(self) -> None:
        self._file.close()

    def abort(self) -> None:
        self._file.close()  # closes the file even when flushing what is buffered fails


class _ParquetSplitWriter:
    """Buffers rows into record batches; the schema is inferred from the first batch.

    pyarrow is imported here, not at the top: it costs a JSON Lines export ~35 MB of memory.
    """

    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._buffer: list[dict] = []
        self._writer = None

    def write(self, row: dict) -> None:
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= PARQUET_BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._buffer:
            return
        if self._writer is None:
            table = pa.Table.from_pylist(self._buffer)
            self._writer = pq.ParquetWriter(self.path, table.schema)
        else:
            table = pa.Table.from_pylist(self._buffer, schema=self._writer.schema)
        self._writer.write_table(table)
        self._buffer.clear()

    def close(self) -> None:
        self._flush()
        if self._writer is not None:
            self._writer.close()
        elif not self.path.exists():
            self.path.touch()  # an empty split still gets its (empty) file

    def abort(self) -> None:
        self._buffer.clear()
        if self._writer is not None:
            self._writer.close()


class SnapshotWriter:
    """Route rows to their split's file; `finish` hashes the files and writes the manifest.

    Used as a context manager, it closes its files when the block fails (see `abort`)."""

    def __init__(self, directory: Path, *, parquet: bool = False):
        self.directory = directory
        suffix, writer_class = (
            (".parquet", _ParquetSplitWriter) if parquet else (".jsonl", _JsonlSplitWriter)
        )
        self._writers = {split: writer_class(directory / f"{split}{suffix}") for split in SPLITS}

    def write(self, split: str, row: dict) -> None:
        self._writers[split].write(row)

    def write_all(self, rows: Iterable[tuple[str, dict]]) -> None:
        for split, row in rows:
            self.write(split, row)

    def __enter__(self) -> "SnapshotWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self.abort()

    def abort(self) -> None:
        """Close every file unfinished. A failed export (a full disk) then gives its space back
        when its temporary directory is removed, not whenever the writer is collected (a
        logged traceback keeps it, and its open files, alive)."""
        for writer in self._writers.values():
            with suppress(OSError):
                writer.abort()

    def rows_per_split(self) -> dict[str, int]:
        return {split: writer.rows for split, writer in self._writers.items()}

    def finish(self, manifest: dict) -> dict:
        for writer in self._writers.values():
            writer.close()
        files = {
            writer.path.name: {"sha256": file_sha256(writer.path), "rows": writer.rows}
            for writer in self._writers.values()
        }
        manifest = {
            **manifest,
            "rows": self.rows_per_split(),
            "files": files,
            "content_sha256": content_sha256(files),
        }
        (self.directory / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        return manifest


def content_sha256(files: dict[str, dict]) -> str:
    """One hash for the data files: SHA-256 over "<sha256>  <name>" lines in name order (the
    layout of sha256sum). The manifest itself is left out, so that the same data exported twice
    gets the same content hash although the manifests differ in their times."""
    lines = "".join(f"{files[name]['sha256']}  {name}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


PARTIAL_MARK = ".partial-"


def partial_directories(final: Path) -> list[Path]:
    """The temporary directories of `final` left behind by a process killed mid-write (a
    SIGKILL or a power cut runs no cleanup)."""
    return sorted(final.parent.glob(f".{final.name}{PARTIAL_MARK}*"))


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory that becomes `final` only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise FileExistsError(f"{final} already exists: snapshots are immutable")
    temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}{PARTIAL_MARK}", dir=final.parent))
    try:
        yield temporary
        os.chmod(temporary, 0o755)
        temporary.rename(final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


# --- what the manifest warns about ------------------------------------------------------------

# Under these many rows a split is tiny: a train split of fewer than 8 rows is one or two
# batches of most methods (the engine refuses some methods below their own minimum, see
# training/engine/schema.py MIN_TRAIN_ROWS); a held-out split of one row gives figures that
# say nothing about the model.
TINY_ROWS = {"train": 8, "validation": 2, "test": 2}


class ExportWarning(StrEnum):
    """Codes of the manifest's "warnings": a client branches on these, never on the text."""

    EMPTY = "export_empty"
    TRAIN_FILLED = "train_filled"
    TRAIN_TINY = "train_tiny"
    NO_HELD_OUT = "no_held_out"
    HELD_OUT_EMPTY = "held_out_empty"
    VALIDATION_EMPTY = "validation_empty"
    VALIDATION_TINY = "validation_tiny"
    TEST_EMPTY = "test_empty"
    TEST_TINY = "test_tiny"


NOT_EVALUATED = "a run on it is not evaluated and cannot use the better-than-parent gate"


def split_checks(
    rows: dict[str, int],
    *,
    ratios: tuple[float, float, float],
    moved_to_train: list[int],
    unit: str = "prompt",
) -> dict:
    """The manifest's "held_out" (false: nothing to evaluate a run on; the training side reads
    it to say a run was not evaluated) and "warnings"."""
    return {
        "held_out": held_out(rows),
        "warnings": split_warnings(rows, ratios=ratios, moved_to_train=moved_to_train, unit=unit),
    }


def held_out(rows: dict[str, int]) -> bool:
    """Whether any row is held out of training (validation or test) to evaluate a run on."""
    return bool(rows.get("validation") or rows.get("test"))


def split_warnings(
    rows: dict[str, int],
    *,
    ratios: tuple[float, float, float],
    moved_to_train: list[int],
    unit: str = "prompt",
) -> list[dict]:
    """What makes the export's splits unfit to train or evaluate on, as
    {"code", "message", "split"} dicts: shown on the export's admin page and by the CLI."""
    if not sum(rows.values()):
        return [_warning(ExportWarning.EMPTY, f"Nothing was exported: no {unit} has rows.")]
    found = []
    if moved_to_train:
        found.append(
            _warning(
                ExportWarning.TRAIN_FILLED,
                f"No {unit} fell in train by the seed; {unit} #{moved_to_train[0]} was moved "
                "there so that train is not empty.",
                "train",
            )
        )
    if rows["train"] < TINY_ROWS["train"]:
        found.append(
            _warning(
                ExportWarning.TRAIN_TINY,
                f"Train has only {_rows(rows['train'])} (under {TINY_ROWS['train']}): a run "
                "on it learns little; label more or export again later.",
                "train",
            )
        )
    if not any(ratios[1:]):
        return [
            *found,
            _warning(ExportWarning.NO_HELD_OUT, f"Nothing is held out: {NOT_EVALUATED}."),
        ]
    if not held_out(rows):
        return [
            *found,
            _warning(
                ExportWarning.HELD_OUT_EMPTY,
                f"No row fell in validation or test: {NOT_EVALUATED}. Try another seed, or "
                "choose no held-out rows.",
            ),
        ]
    return found + [
        warning
        for split, ratio in zip(SPLITS[1:], ratios[1:], strict=True)
        if ratio and (warning := _held_out_warning(split, rows[split]))
    ]


def _held_out_warning(split: str, count: int) -> dict | None:
    if count == 0:
        why = (
            " (runs evaluate on validation unless told otherwise)" if split == "validation" else ""
        )
        return _warning(
            ExportWarning(f"{split}_empty"), f"{split.capitalize()} is empty{why}.", split
        )
    if count < TINY_ROWS[split]:
        return _warning(
            ExportWarning(f"{split}_tiny"),
            f"{split.capitalize()} has only {_rows(count)} (under {TINY_ROWS[split]}): its "
            "figures say little.",
            split,
        )
    return None


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _warning(code: ExportWarning, message: str, split: str | None = None) -> dict:
    return {"code": str(code), "message": message, "split": split}
