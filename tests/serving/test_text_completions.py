"""Base models without a chat template are served through /v1/completions with the project's
text template: the request and answer shapes, and a refill against a real vLLM server of a
template-less copy of the bundled model (one server for the module)."""

from __future__ import annotations

import pytest

from labeling.models import Completion
from labeling.services.generation import completions_refill
from labeling.services.projects import project_create
from labeling.services.prompts import prompt_create
from serving.vllm.client import (
    Sampling,
    completion_request_body,
    parse_chat_response,
    parse_completion_response,
)
from serving.vllm.concurrent_chat import ChatJob
from serving.vllm.launcher import ServerStartError, VLLMProcess
from tests.fixtures.base_models import template_less_copy
from tests.fixtures.vllm import vllm_server_config
from training.engine.prompts import TextTemplate

TEMPLATE = "Question: {instruction}\n\nContext: {input}\n\nAnswer:\n{output}\n\n### End"

# --- fast: the request and the answer ----------------------------------------------------


def test_a_completion_request_carries_the_prompt_text_stop_and_sampled_token_logprobs():
    sampling = Sampling(
        n=2, temperature=0.7, max_tokens=9, seed=5, stop=("\n\n### End",), logprobs=True
    )
    body, seed = completion_request_body(
        model="m", prompt="Question: hi\n\nAnswer:\n", sampling=sampling, send_seed=False
    )
    assert seed is None and "messages" not in body and "seed" not in body
    assert body == {
        "model": "m",
        "prompt": "Question: hi\n\nAnswer:\n",
        "n": 2,
        "temperature": 0.7,
        "top_p": 0.95,
        "max_tokens": 9,
        "stop": ["\n\n### End"],
        "logprobs": 0,
    }


def test_a_completion_answer_reads_like_a_chat_answer():
    completion = {
        "id": "cmpl-1",
        "model": "m",
        "choices": [
            {
                "index": 1,
                "text": "Tea.",
                "finish_reason": "stop",
                "logprobs": {"tokens": ["Tea", "."], "token_logprobs": [-0.5, -0.1]},
            },
            {"index": 0, "text": "Otters.", "finish_reason": "length", "logprobs": None},
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 5},
    }
    chat = {
        "id": "cmpl-1",
        "model": "m",
        "choices": [
            {
                "index": 1,
                "message": {"role": "assistant", "content": "Tea."},
                "finish_reason": "stop",
                "logprobs": {
                    "content": [{"token": "Tea", "logprob": -0.5}, {"token": ".", "logprob": -0.1}]
                },
            },
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Otters."},
                "finish_reason": "length",
            },
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 5},
    }
    assert parse_completion_response(completion, latency_ms=3, seed=None) == parse_chat_response(
        chat, latency_ms=3, seed=None
    )


def test_a_job_is_either_a_chat_or_a_plain_completion():
    with pytest.raises(ValueError, match="either messages or prompt_text"):
        ChatJob(key=1, model="m", sampling=Sampling())
    with pytest.raises(ValueError, match="either messages or prompt_text"):
        ChatJob(key=1, model="m", sampling=Sampling(), messages=[], prompt_text="Q")


# --- a real server of a model without a chat template ------------------------------------


@pytest.fixture(scope="module")
def text_model_server(base_model_dir, tmp_path_factory):
    """One vLLM server of the bundled model without its chat template."""
    model_dir = template_less_copy(base_model_dir[0], tmp_path_factory.mktemp("base") / "text")
    config = vllm_server_config(model_dir, "smollm2-text", tmp_path_factory.mktemp("vllm"))
    process = VLLMProcess(config)
    try:
        process.start()
        process.wait_healthy(timeout=300)
    except ServerStartError as exc:
        process.stop()
        pytest.fail(f"vLLM did not start: {exc}", pytrace=False)
    try:
        yield config
    finally:
        process.stop()


@pytest.mark.vllm
@pytest.mark.django_db
def test_a_refill_for_a_base_model_sends_the_text_template_prompt(settings, text_model_server):
    from transformers import AutoTokenizer

    settings.VLLM_URLS = [text_model_server.url]
    settings.VLLM_SEND_SEED = False
    settings.BASE_MODEL_DIR = text_model_server.model_dir
    settings.BASE_MODEL_NAME = text_model_server.served_name
    settings.BASE_MODEL_PROMPT_STYLE = "auto"  # read from the model directory: text
    project = project_create(
        name="base", slug="base", completions_per_prompt=2, temperature=1.0, max_tokens=12
    )
    project.text_template = TEMPLATE
    project.save(update_fields=["text_template"])
    prompt = prompt_create(project=project, instruction="Name a river.", input="In Europe.")

    report = completions_refill(project=project)

    assert report.requests == 1 and report.stored == 2, report
    sent = TextTemplate(TEMPLATE).prompt(instruction=prompt.instruction, input=prompt.input)
    assert sent == "Question: Name a river.\n\nContext: In Europe.\n\nAnswer:\n"
    tokenizer = AutoTokenizer.from_pretrained(str(text_model_server.model_dir))
    completions = list(Completion.objects.filter(prompt=prompt).order_by("index"))
    assert [c.index for c in completions] == [0, 1]
    for completion in completions:
        # The server counted exactly the template's prompt: it was sent as plain text, not
        # wrapped in a chat template (the model has none, so a chat request is refused).
        assert completion.prompt_tokens == len(tokenizer(sent)["input_ids"])
        assert completion.sampling_params == {
            "n": 2,
            "temperature": 1.0,
            "top_p": 0.95,
            "max_tokens": 12,
        }
        assert completion.finish_reason in {"stop", "length"}
        assert 0 < completion.completion_tokens <= 12
        assert "### End" not in completion.text  # the template's ending stops the answer
        assert completion.model_version.served_name == "smollm2-text"
