"""Fault tests: a real worker really killed, a real disk really full, a real database really
restarted; each asserts that nothing was lost and the live model did not change."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.fixtures.databases import database_url


@pytest.fixture
def worker_env(tmp_path, settings) -> dict[str, str]:
    """The environment of a worker process on the test database, whose var/ (and so its
    MODELS_DIR) is this test's; this process's settings point at the same directory."""
    var = tmp_path / "var"
    settings.MODELS_DIR = var / "models"
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(var),
        "BASE_MODEL_DIR": str(settings.BASE_MODEL_DIR),
    }


def worker_start(env: dict[str, str], log: Path, *argv: str) -> subprocess.Popen:
    """A Python process in a session of its own (a kill of its group reaches whatever it
    started), writing to `log` rather than a pipe nobody may read while it runs."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *argv],
            cwd=Path(settings.BASE_DIR),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def worker_kill(worker: subprocess.Popen) -> None:
    """SIGKILL, as the OOM killer or `kill -9` sends it: the worker runs no cleanup at all."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def wait_for(condition, *, timeout_s: float, what: str, log: Path | None = None):
    """Poll `condition()` until it returns something true; fail saying what never happened."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"{what} within {timeout_s:.0f} s\n{tail}")
