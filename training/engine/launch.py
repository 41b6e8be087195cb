"""Training under a launcher: `train_launched` runs `train` as a child process group started
by a launcher command (`accelerate launch --num_processes 8`, `torchrun --nproc_per_node 8`),
with the same arguments and outcomes as `train` in this process.

The two sides speak through files in a work directory:

    config.json   the run's TrainConfig (`--config`)
    events.jsonl  one JSON object a line, written by the main process only: {"event": ...}
                  for each ProgressEvent, then {"result": ...} (the TrainResult) or
                  {"error": {"kind": ..., "message": ...}} (any process that fails)
    stop          created to cancel: every process checks it at each step boundary and they
                  stop together (`--stop-file`)
    launcher.log  the launcher's stdout and stderr, whose tail explains a crash

`train_launched` feeds each event to `progress` as it arrives, creates the stop file when
`should_stop()` or `progress` says so, and raises ConfigError, Cancelled or LaunchFailed as
`train` would raise its own errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from training.engine.config import ConfigError, TrainConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
STOP_FILE = "stop"
LOG_FILE = "launcher.log"
# Error kinds in events.jsonl: what `train_launched` raises for each.
CONFIG, CANCELLED, FAILED = "config", "cancelled", "failed"
POLL_S = 0.5
TERMINATE_WAIT_S = 30.0
LOG_TAIL_LINES = 20
PR_SET_PDEATHSIG = 1


class LaunchFailed(RuntimeError):
    """The launched run ended without a result: its error, or its launcher's last lines."""


# --- the child's side (python -m training.engine ... --events FILE --stop-file FILE) ----------


class EventLog:
    """Appends records to events.jsonl; one short write per record, so the lines of processes
    writing at once (an error on two ranks) do not interleave."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None

    def write(self, kind: str, payload: Any) -> None:
        if self.path is None:
            return
        line = json.dumps({kind: payload}, default=_plain) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def error(self, kind: str, message: str) -> None:
        self.write("error", {"kind": kind, "message": message})


def _plain(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return float(value)


def stop_file_check(path: str | Path | None):
    """should_stop for `--stop-file`: true once the file exists."""
    if not path:
        return lambda: False
    stop = Path(path)
    return stop.exists


# --- the worker's side ---------------------------------------------------------------------------


def command(launcher: str, config: TrainConfig, data_dir: str | Path, work: Path) -> list[str]:
    """`<launcher> -m training.engine METHOD --data DIR --out DIR --config ... --events ...`"""
    return [
        *shlex.split(launcher),
        "-m",
        "training.engine",
        config.method,
        "--data",
        str(Path(data_dir).resolve()),
        "--out",
        str(Path(config.output_dir).resolve()),
        "--config",
        str(work / CONFIG_FILE),
        "--events",
        str(work / EVENTS_FILE),
        "--stop-file",
        str(work / STOP_FILE),
    ]


def train_launched(
    config: TrainConfig,
    data_dir: str | Path,
    progress: Any = None,
    *,
    should_stop: Any = None,
    launcher: str,
    work_dir: str | Path,
) -> Any:
    """`train(config, data_dir, progress, should_stop=...)`, run by `launcher` in a child
    process group; `work_dir` (created, left in place) holds the files both sides use."""
    from training.engine.progress import Cancelled, ProgressEvent

    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    (work / STOP_FILE).unlink(missing_ok=True)
    (work / EVENTS_FILE).write_text("")
    records: list[dict[str, Any]] = []

    def stop() -> None:
        (work / STOP_FILE).touch()

    def take(record: dict[str, Any]) -> None:
        records.append(record)
        if "event" in record and progress is not None:
            answer = progress(ProgressEvent(**record["event"]))
            if answer is Cancelled or isinstance(answer, Cancelled):
                stop()

    argv = command(launcher, config, data_dir, work)
    with _child(argv, work / LOG_FILE) as child, (work / EVENTS_FILE).open() as events:
        while child.poll() is None:
            for record in _new_records(events):
                take(record)
            if should_stop is not None and should_stop():
                stop()
            time.sleep(POLL_S)
        for record in _new_records(events):
            take(record)
    return _outcome(records, child.returncode, work)


@contextlib.contextmanager
def _child(argv: list[str], log_path: Path) -> Iterator[subprocess.Popen]:
    """The launcher in a session of its own; killed with all its processes if the caller
    stops waiting for it (an exception here), so no rank outlives the worker's interest."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.setdefault("PYTHONUNBUFFERED", "1")
    with log_path.open("w") as log:
        try:
            child = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_stop_with_parent,
            )
        except OSError as exc:
            raise LaunchFailed(f"could not start the training launcher {argv[0]!r}: {exc}") from exc
        try:
            yield child
        finally:
            if child.poll() is None:
                _terminate(child)


def _stop_with_parent() -> None:
    """In the launcher, before it starts: SIGTERM when the worker that waits for it dies
    (Linux's PR_SET_PDEATHSIG), so a worker killed outright leaves no run training on."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _terminate(child: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, TERMINATE_WAIT_S), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        try:
            child.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _new_records(events: IO[str]) -> list[dict[str, Any]]:
    """Complete lines appended since the last call (a half-written last line waits)."""
    records = []
    while True:
        position = events.tell()
        line = events.readline()
        if not line.endswith("\n"):
            events.seek(position)
            return records
        if line.strip():
            records.append(json.loads(line))


def _outcome(records: list[dict[str, Any]], returncode: int, work: Path) -> Any:
    """The TrainResult, or the error `train` would have raised in this process."""
    from training.engine.progress import Cancelled
    from training.engine.recipe import TrainResult

    results = [r["result"] for r in records if "result" in r]
    errors = [r["error"] for r in records if "error" in r]
    if results and returncode == 0:
        return TrainResult(**results[-1])
    if any(e["kind"] == CANCELLED for e in errors):
        raise Cancelled(next(e["message"] for e in errors if e["kind"] == CANCELLED))
    if errors and errors[0]["kind"] == CONFIG:
        raise ConfigError(errors[0]["message"])
    if errors:
        raise LaunchFailed(errors[0]["message"])
    raise LaunchFailed(
        f"the training launcher exited with status {returncode} without a result; "
        f"its last lines:\n{log_tail(work / LOG_FILE)}"
    )


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no launcher log)"
