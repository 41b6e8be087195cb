import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

CHECK = """
import importlib, sys
import training.engine
from training.engine import METHODS
for name in [*METHODS, "config", "data", "evaluation", "progress", "publish", "recipe", "__main__"]:
    importlib.import_module("training.engine." + name)
leaked = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
print("LEAKED", leaked)
sys.exit(1 if leaked else 0)
"""


def test_engine_never_imports_django():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=REPO_ROOT,
        env={**env, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LEAKED []" in done.stdout


def test_importing_the_package_alone_stays_light():
    done = subprocess.run(
        [sys.executable, "-c", "import sys, training.engine; print('torch' in sys.modules)"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "False", done.stderr
