"""The serving library (serving.vllm) runs without the web app: the supervisor, benchmarks and
test fixtures import it outside Django, so it must never pull Django in."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import importlib, sys
for name in ["serving.vllm", "serving.vllm.client", "serving.vllm.concurrent_chat",
             "serving.vllm.launcher", "serving.vllm.bundled_model"]:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
print("LEAKED", leaked)
sys.exit(1 if leaked else 0)
"""


def test_serving_library_never_imports_django():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LEAKED []" in done.stdout
