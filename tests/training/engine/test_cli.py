import json
import os
import subprocess
import sys
from pathlib import Path

from tests.training.engine import snapshots as S

REPO_ROOT = Path(__file__).resolve().parents[3]


def cli(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(OMP_NUM_THREADS="2", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.run(
        [sys.executable, "-m", "training.engine", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_trains_publishes_and_prints_a_json_summary(tmp_path, tiny_model_dir):
    data = S.write_snapshot(tmp_path / "snap", S.preference_rows(8), S.preference_rows(2, 8))
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"learning_rate": 5e-3, "batch_size": 2, "dpo": {"beta": 0.2}}))
    out = tmp_path / "v1"
    done = cli(
        "dpo",
        "--data", data,
        "--out", out,
        "--config", config,
        "--base-model", tiny_model_dir,
        "--set", "max_steps=2",
        "--set", "eval_max_samples=2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("[train] log step 2/2 loss ") for line in lines), done.stdout
    summary = json.loads(done.stdout[done.stdout.index("\n{") :])
    assert summary["method"] == "dpo" and summary["steps"] == 2
    assert summary["output_dir"] == str(out.resolve())
    assert "eval_preference_accuracy" in summary["metrics"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["config"]["dpo"]["beta"] == 0.2  # from the file
    assert meta["config"]["max_steps"] == 2  # from --set
    assert (out / "adapter_model.safetensors").is_file()


def test_cli_bad_config_exits_non_zero_with_the_reason(tmp_path, tiny_model_dir):
    data = S.write_snapshot(tmp_path / "snap", S.preference_rows(8))
    done = cli("dpo", "--data", data, "--out", tmp_path / "v1", "--set", "lora_r=0")
    assert done.returncode == 2
    assert "error: lora_r must be a positive rank, got 0" in done.stderr
    assert not (tmp_path / "v1").exists()


def test_cli_names_the_missing_column(tmp_path, tiny_model_dir):
    rows = [{"prompt": r["prompt"], "chosen": r["chosen"]} for r in S.preference_rows(8)]
    data = S.write_snapshot(tmp_path / "snap", rows)
    done = cli("dpo", "--data", data, "--out", tmp_path / "v1", "--base-model", tiny_model_dir)
    assert done.returncode == 2
    assert f"{data / 'train.jsonl'}" in done.stderr
    assert "missing column(s): rejected" in done.stderr
