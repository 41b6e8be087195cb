"""The supervisor brings a killed vLLM server back, adapters included, with nobody's help."""

import os
import signal
import time

import pytest

from serving.vllm.client import Sampling, ServingError, VLLMClient
from serving.vllm.launcher import Supervisor
from tests.fixtures.vllm import vllm_server_config

pytestmark = pytest.mark.vllm

ADAPTER = "supervised-v1"


def wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := condition():
                return value
        except ServingError:
            pass
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def test_killed_server_is_restarted_and_its_adapters_loaded_again(
    base_model_dir, random_lora_adapter, tmp_path
):
    model_dir, served_name = base_model_dir
    config = vllm_server_config(model_dir, served_name, tmp_path)
    loads = []

    def on_ready(client):
        client.load_adapter(name=ADAPTER, path=str(random_lora_adapter))
        loads.append(client.base_url)

    supervisor = Supervisor(config, on_ready=on_ready, poll_interval=1.0, backoff=1.0)
    supervisor.start()
    try:
        assert supervisor.wait_ready(timeout=300), "the supervised server never became ready"
        first_pid = supervisor.process.pid
        with supervisor_client(config) as client:
            assert {m.id: m.parent for m in client.models()}[ADAPTER] == served_name

            os.killpg(first_pid, signal.SIGKILL)  # the whole group: API server and engine
            wait_for(lambda: not client.health(), timeout=10, what="the server to go down")

            started = time.monotonic()
            wait_for(
                lambda: len(loads) == 2 and supervisor.ready.is_set(),
                timeout=300,
                what="the supervisor to restart vLLM and call on_ready again",
            )
            print(f"restarted and ready in {time.monotonic() - started:.0f}s")
            assert supervisor.process.pid != first_pid
            assert {m.id: m.parent for m in client.models()}[ADAPTER] == served_name
            result = client.chat(
                model=ADAPTER,
                messages=[{"role": "user", "content": "Hello"}],
                sampling=Sampling(temperature=0.0, max_tokens=8),
            )
            assert result.model == ADAPTER and result.completion_tokens > 0
    finally:
        supervisor.stop()
    assert not supervisor.process.alive


def supervisor_client(config):
    return VLLMClient(config.url, send_seed=config.send_seed, retries=0, timeout=30)
