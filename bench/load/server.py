"""The app under gunicorn, as production serves it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import ROOT


class Gunicorn:
    """The app under gunicorn, as production serves it, on a free loopback port, in a
    session of its own; stopped (the whole group) on leaving the `with`."""

    def __init__(self, *, database_url: str, var_dir: Path, workers: int):
        from serving.vllm.launcher import free_port

        self.workers = workers
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = var_dir / "gunicorn.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "VAR_DIR": str(var_dir),
            "SECRET_KEY": os.environ.get("SECRET_KEY", "load-benchmark-only-not-secret"),
            "DEBUG": "0",
            "SECURE_HTTPS": "0",  # plain HTTP on loopback
            "LOG_LEVEL": "WARNING",
        }
        self.popen: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
        command += ["--bind", self.url.removeprefix("http://"), "--workers", str(self.workers)]
        command += ["--preload", "--timeout", "120", "--graceful-timeout", "10"]
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout_s=60)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self, *, timeout_s: float) -> None:
        """Until the app answers (401 to an anonymous request: it is loaded and routing)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.popen.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/api/projects/", timeout=5).status_code < 500:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout_s:.0f} s:\n{self.log_tail()}")

    def __exit__(self, *exc_info) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""
