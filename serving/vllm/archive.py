"""An adapter directory as one deterministic tar archive, for agents that fetch it over HTTP.

The same directory always gives the same bytes (sorted entries, zeroed times and owners, fixed
modes), so its SHA-256 names its content: the app announces the digest, the agent checks the
bytes it received against it before it extracts anything.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024
BLOCK = tarfile.BLOCKSIZE  # 512
RECORD = tarfile.RECORDSIZE  # 10240: tar pads the end to a whole record


class ArchiveError(Exception):
    """An archive that does not match what was announced, or that tries to leave its folder."""


@dataclass(frozen=True)
class ArchiveDigest:
    sha256: str
    size: int


def _entries(directory: Path) -> list[Path]:
    """Every file and folder under `directory`, sorted; symlinks are refused (they could point
    anywhere on the web host)."""
    entries = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(dirs + files):
            path = Path(root) / name
            if path.is_symlink():
                raise ArchiveError(f"{path} is a symbolic link; adapters are plain files")
            entries.append(path)
    return sorted(entries, key=lambda path: path.relative_to(directory).as_posix())


def _header(path: Path, arcname: str) -> bytes:
    info = tarfile.TarInfo(arcname)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = path.stat().st_size
        info.mode = 0o644
    return info.tobuf(format=tarfile.PAX_FORMAT)


def archive_chunks(directory: str | Path) -> Iterator[bytes]:
    """The archive of `directory`, streamed (a file's bytes are never all in memory at once)."""
    directory = Path(directory)
    written = 0
    for path in _entries(directory):
        header = _header(path, path.relative_to(directory).as_posix())
        written += len(header)
        yield header
        if path.is_dir():
            continue
        size = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                size += len(chunk)
                yield chunk
        padding = -size % BLOCK
        written += size + padding
        if padding:
            yield b"\0" * padding
    end = 2 * BLOCK
    end += -(written + end) % RECORD
    yield b"\0" * end


def _signature(directory: Path) -> tuple:
    return tuple(
        (path.relative_to(directory).as_posix(), stat.st_size, stat.st_mtime_ns)
        for path in _entries(directory)
        for stat in [path.stat()]
    )


def archive_digest(directory: str | Path) -> ArchiveDigest:
    """SHA-256 and size of the archive; computed once per state of the directory's files."""
    directory = Path(directory).resolve()
    return _digest(directory, _signature(directory))


@functools.lru_cache(maxsize=256)
def _digest(directory: Path, signature: tuple) -> ArchiveDigest:
    sha, size = hashlib.sha256(), 0
    for chunk in archive_chunks(directory):
        sha.update(chunk)
        size += len(chunk)
    return ArchiveDigest(sha256=sha.hexdigest(), size=size)


def archive_extract(archive: Path, destination: Path) -> None:
    """Unpack into `destination` (a new folder): only plain files and folders inside it."""
    with tarfile.open(archive, mode="r:") as tar:
        try:
            tar.extractall(destination, filter="data")
        except tarfile.FilterError as exc:
            raise ArchiveError(f"refused to unpack {archive.name}: {exc}") from exc
