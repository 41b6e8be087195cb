"""Benchmarks that build their data straight into the tables (next_task, export): a new column
without a database default breaks them where no other test looks, so a small run of each,
end to end (next_task for each prompt selection)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("selection", ["order", "uncertainty"])
def test_one_small_size_of_the_next_task_benchmark_runs(tmp_path, selection):
    env = {**os.environ}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "bench.next_task", "--measure", "120"]
    command += ["--iterations", "40", "--workdir", str(tmp_path), "--selection", selection]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["prompts"] == 120 and figures["rendered"] is True
    assert "none" not in figures["kinds"]  # every turn had a task to submit
    assert len(figures["kinds"]) >= 4 and sum(figures["kinds"].values()) == 40
    assert 0 < figures["p95_ms"] < 5000


def test_the_export_benchmark_smoke_run_exports_every_pair(tmp_path):
    """`python -m bench export --quick` (10,000 rankings written straight into the tables,
    then `manage.py export_dataset`) runs and exports as many pairs as it made."""
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "bench", "export", "--quick"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads((tmp_path / "export.quick.json").read_text())
    assert result["params"]["pairs"] == sum(result["extra"]["rows"].values()) > 0
