"""A tiny Llama (2 layers, hidden 64) with the real SmolLM2 tokenizer, built once per session."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
BUNDLED = REPO_ROOT / "var" / "models" / "SmolLM2-135M-Instruct"
WAIT_S = float(os.environ.get("ENGINE_TEST_TOKENIZER_WAIT_S", "900"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    import torch

    torch.set_num_threads(2)


def _wait_for_tokenizer() -> Path:
    """The bundled model is prepared by another process; wait for its completion marker."""
    deadline = time.monotonic() + WAIT_S
    while not (BUNDLED / "prepared.json").is_file():
        if time.monotonic() > deadline:
            pytest.fail(
                f"{BUNDLED} is not prepared: "
                f"python -m serving.vllm.bundled_model prepare --out {BUNDLED}"
            )
        time.sleep(5)
    return BUNDLED


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(_wait_for_tokenizer()))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: engine tests that train for longer (RLHF)")
