"""The client against a real vLLM server serving the bundled model."""

import pytest

from serving.vllm.client import BadRequest, Sampling

pytestmark = pytest.mark.vllm

PROMPT = [{"role": "user", "content": "Give me one tip for writing clear emails."}]


def greedy(server, model: str) -> str:
    result = server.client.chat(
        model=model, messages=PROMPT, sampling=Sampling(temperature=0.0, max_tokens=24)
    )
    return result.choices[0].text


def test_n_completions_are_distinct_and_accounted(vllm_server):
    result = vllm_server.client.chat(
        model=vllm_server.served_name,
        messages=PROMPT,
        sampling=Sampling(n=4, temperature=0.9, max_tokens=48, seed=123),
    )
    assert [choice.index for choice in result.choices] == [0, 1, 2, 3]
    assert len({choice.text for choice in result.choices}) == 4
    assert all(choice.text.strip() for choice in result.choices)
    assert {choice.finish_reason for choice in result.choices} <= {"stop", "length"}
    assert result.prompt_tokens > 10
    assert 4 <= result.completion_tokens <= 4 * 48
    assert result.model == vllm_server.served_name
    assert result.request_id and result.latency_ms > 0
    # The CPU engine must not get per-request seeds (FACTS.md); the result says what was sent.
    assert result.seed == (123 if vllm_server.config.send_seed else None)
    print(f"n=4 completions in {result.latency_ms} ms")


def test_logprobs_come_back_per_token(vllm_server):
    result = vllm_server.client.chat(
        model=vllm_server.served_name,
        messages=PROMPT,
        sampling=Sampling(temperature=0.0, max_tokens=8, logprobs=True),
    )
    logprobs = result.choices[0].logprobs
    assert len(logprobs) == result.completion_tokens
    assert "".join(item["token"] for item in logprobs) == result.choices[0].text
    assert all(item["logprob"] <= 0 for item in logprobs)


def test_greedy_with_several_completions_is_refused_with_the_servers_reason(vllm_server):
    with pytest.raises(BadRequest, match="n must be 1 when using greedy sampling") as caught:
        vllm_server.client.chat(
            model=vllm_server.served_name,
            messages=PROMPT,
            sampling=Sampling(n=2, temperature=0.0),
        )
    assert caught.value.status_code == 400


def test_models_lists_the_served_base_model(vllm_server):
    models = {info.id: info for info in vllm_server.client.models()}
    assert vllm_server.served_name in models
    assert models[vllm_server.served_name].parent is None
    assert vllm_server.client.health() is True


def test_a_peft_adapter_loads_changes_greedy_output_and_unloads(vllm_server, random_lora_adapter):
    client, base = vllm_server.client, vllm_server.served_name
    name = "serving-test-v1"
    base_text = greedy(vllm_server, base)

    client.load_adapter(name=name, path=str(random_lora_adapter))
    client.load_adapter(name=name, path=str(random_lora_adapter))  # already loaded: no error
    try:
        assert {info.id: info.parent for info in client.models()}[name] == base
        adapter_text = greedy(vllm_server, name)
        assert adapter_text != base_text
        assert greedy(vllm_server, base) == base_text  # the base model is untouched
    finally:
        client.unload_adapter(name=name)

    assert name not in {info.id for info in client.models()}
    with pytest.raises(BadRequest, match=name):
        greedy(vllm_server, name)
