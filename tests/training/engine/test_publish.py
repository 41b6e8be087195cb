import json
import re
from pathlib import Path

import pytest
import torch

from training.engine.config import preset
from training.engine.publish import (
    META_FILE,
    PublishError,
    atomic_directory,
    build_meta,
    code_version,
    merge_adapter,
    publish,
)


def leftovers(parent):
    return sorted(p.name for p in parent.iterdir())


def test_atomic_directory_renames_into_place(tmp_path):
    target = tmp_path / "v1"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("x")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "x"
    assert leftovers(tmp_path) == ["v1"]


def test_atomic_directory_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "v1"
    with pytest.raises(RuntimeError, match="disk full"), atomic_directory(target) as tmp:
        (tmp / "adapter_config.json").write_text("{}")
        raise RuntimeError("disk full")
    assert leftovers(tmp_path) == []


def test_atomic_directory_refuses_a_non_empty_target(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "old").write_text("keep me")
    with (
        pytest.raises(PublishError, match="already exists and is not empty"),
        atomic_directory(tmp_path / "v1"),
    ):
        pass
    assert (tmp_path / "v1" / "old").read_text() == "keep me"


class HalfSaver:
    def save_pretrained(self, directory, **kw):
        (Path(directory) / "adapter_config.json").write_text("{}")
        raise OSError("interrupted while writing the weights")


def test_publish_failure_mid_save_leaves_no_half_written_dir(tmp_path):
    with pytest.raises(OSError, match="interrupted"):
        publish(tmp_path / "v1", HalfSaver(), {"kind": "adapter"})
    assert leftovers(tmp_path) == []


def test_code_version_is_the_git_head():
    version = code_version()
    assert version is None or re.fullmatch(r"[0-9a-f]{40}", version)


@pytest.fixture(scope="module")
def tiny_adapter(tiny_model_dir, tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    peft_model = get_peft_model(model, config)
    run_config = preset("sft")
    run_config.base_model = str(tiny_model_dir)
    meta = build_meta(
        config=run_config,
        base_model=tiny_model_dir,
        snapshot_dir=tiny_model_dir,
        manifest_sha256="0" * 64,
        metrics={"eval_loss": 1.5},
        kind="adapter",
    )
    out = tmp_path_factory.mktemp("publish") / "adapter"
    publish(out, peft_model, meta)
    return out, peft_model


def test_publish_writes_adapter_and_meta(tiny_adapter, tiny_model_dir):
    out, _ = tiny_adapter
    assert (out / "adapter_config.json").is_file()
    assert (out / "adapter_model.safetensors").is_file()
    meta = json.loads((out / META_FILE).read_text())
    assert meta["kind"] == "adapter"
    assert meta["base_model"] == str(tiny_model_dir.resolve())
    assert meta["snapshot"]["manifest_sha256"] == "0" * 64
    assert meta["config"]["method"] == "sft" and meta["config"]["dpo"]["beta"] == 0.1
    assert meta["metrics"] == {"eval_loss": 1.5}
    assert {"code_version", "created_at", "libraries"} <= set(meta)


def test_merge_adapter_gives_the_same_outputs_as_base_plus_adapter(tiny_adapter, tmp_path):
    from transformers import AutoModelForCausalLM

    adapter_dir, peft_model = tiny_adapter
    merged_dir = merge_adapter(adapter_dir, tmp_path / "merged")
    assert not (merged_dir / "adapter_config.json").exists()
    assert json.loads((merged_dir / META_FILE).read_text())["kind"] == "full"
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32)
    ids = torch.tensor([[1, 20, 30, 40, 2]])
    with torch.no_grad():
        expected = peft_model(input_ids=ids).logits
        got = merged(input_ids=ids).logits
    assert torch.allclose(expected, got, atol=1e-4)
