"""Shared by the benchmarks: a throwaway Django, child processes measured, result files.

Benchmarks run the real entry points (`manage.py ...`) in child processes so that wall time and
peak memory are those a user would see, not the benchmark harness's own.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# BENCH_RESULTS_DIR: elsewhere than bench/results (a test running a benchmark end to end).
RESULTS_DIR = Path(
    os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results"
)
RESULT_KEYS = ("name", "metric", "value", "baseline", "ratio", "goal", "unit", "machine", "params")
# Debian's Chromium, headless, as the browser tests and the browser benchmark launch it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def machine_info() -> dict[str, Any]:
    """What the figures depend on, so results from different machines are not compared blindly."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpu_count": os.cpu_count(),
        "memory_gb": round(memory / 2**30, 1),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work skews the timings
    }


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def result_build(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """The result document: the agreed keys first, then whatever else the benchmark reported."""
    baseline = figures.get("baseline")
    ratio = round(figures["value"] / baseline, 3) if baseline else None
    result = {
        "name": name,
        "metric": figures["metric"],
        "value": figures["value"],
        "baseline": baseline,
        "ratio": ratio,
        "goal": figures["goal"],
        "unit": figures["unit"],
        "machine": machine_info(),
        "params": figures.get("params", {}),
    }
    result.update({key: value for key, value in figures.items() if key not in result})
    return result


def result_write(name: str, result: dict[str, Any], *, quick: bool = False) -> Path:
    """Full runs write NAME.json; smoke runs write NAME.quick.json and never overwrite them."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / (f"{name}.quick.json" if quick else f"{name}.json")
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    seconds: float
    cpu_seconds: float  # user + system: less swayed than wall time by other work on the machine
    peak_rss_mb: float
    stdout: str
    stderr: str


def child_run(args: list[str], *, env: dict[str, str], cwd: Path = ROOT) -> ChildRun:
    """Run `args` and measure its wall time and peak RSS, as a user running it would see them.

    A forked child's ru_maxrss starts at its parent's RSS at fork time (Linux keeps the high
    water mark across exec), so a large benchmark process would hide a small child. The
    command is therefore started from a fresh, small interpreter (`python -m bench.common`),
    which reads `getrusage(RUSAGE_CHILDREN)` after it ends. Output goes to files, not pipes,
    so a chatty child cannot block.
    """
    with tempfile.TemporaryDirectory(prefix="bench-child-") as tmp:
        usage_file = Path(tmp) / "usage.json"
        out_file, err_file = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with open(out_file, "wb") as out, open(err_file, "wb") as err:
            launcher = [sys.executable, "-m", "bench.common", str(usage_file), "--", *args]
            subprocess.run(launcher, env=env, cwd=cwd, stdout=out, stderr=err, check=False)
        usage = json.loads(usage_file.read_text())
        return ChildRun(
            returncode=usage["returncode"],
            seconds=usage["seconds"],
            cpu_seconds=usage["cpu_seconds"],
            peak_rss_mb=usage["peak_rss_mb"],
            stdout=out_file.read_text("utf-8", "replace"),
            stderr=err_file.read_text("utf-8", "replace"),
        )


def _measure(usage_file: str, args: list[str]) -> None:
    """Run `args` as this small process's only child and record its time and peak RSS."""
    import resource

    started = time.perf_counter()
    returncode = subprocess.run(args, check=False).returncode
    seconds = time.perf_counter() - started
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    usage = {
        "returncode": returncode,
        "seconds": seconds,
        "cpu_seconds": round(child.ru_utime + child.ru_stime, 2),
        "peak_rss_mb": _max_rss_mb(child.ru_maxrss),
    }
    Path(usage_file).write_text(json.dumps(usage))


def _max_rss_mb(ru_maxrss: int) -> float:
    """ru_maxrss is in KiB on Linux and in bytes on macOS."""
    kib = ru_maxrss / 1024 if sys.platform == "darwin" else ru_maxrss
    return round(kib / 1024, 1)


def django_setup_throwaway(workdir: Path, *, database_url: str | None = None) -> dict[str, str]:
    """Set Django up on a fresh, migrated SQLite DB under `workdir`, never var/db.sqlite3
    (or on `database_url`, an empty database the benchmark made for itself).

    Returns the environment that child processes need to use the same database.
    """
    from django.conf import settings

    if settings.configured:
        raise RuntimeError("Django is already set up; a benchmark needs its own database.")
    overrides = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url or f"sqlite:///{workdir / 'db.sqlite3'}",
        "VAR_DIR": str(workdir / "var"),
        "SECRET_KEY": "benchmark-only-not-secret",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(overrides)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return dict(os.environ)


if __name__ == "__main__":
    # python -m bench.common USAGE_FILE -- COMMAND...: see child_run.
    _measure(sys.argv[1], sys.argv[3:])


def base_model() -> tuple[Path, str]:
    """(model directory, served name): BASE_MODEL_DIR / BASE_MODEL_NAME if set, else the bundled
    model (prepared first if need be)."""
    served = os.environ.get("BASE_MODEL_NAME", "SmolLM2-135M-Instruct")
    if configured := os.environ.get("BASE_MODEL_DIR"):
        return Path(configured), served
    from serving.vllm.bundled_model import prepare

    return prepare(ROOT / "var" / "models" / "SmolLM2-135M-Instruct"), served


def vllm_process(model_dir: Path, served_name: str, log_dir: Path):
    """A VLLMProcess (not started) serving `model_dir` on a free loopback port, with the
    vLLM virtualenv at VLLM_PYTHON or .venv-vllm; its log in `log_dir`."""
    from serving.vllm.launcher import ServerConfig, VLLMProcess, free_port

    config = ServerConfig(
        model_dir=model_dir,
        served_name=served_name,
        python=Path(os.environ.get("VLLM_PYTHON", ROOT / ".venv-vllm" / "bin" / "python")),
        port=free_port(),
        log_file=Path(log_dir) / "vllm.log",
    )
    return VLLMProcess(config)
