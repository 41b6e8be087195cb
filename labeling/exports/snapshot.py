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
from contextlib import contextmanager
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


class SnapshotWriter:
    """Route rows to their split's file; `finish` hashes the files and writes the manifest."""

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
