"""The client's error handling, against small real HTTP servers on loopback (no vLLM).

What needs a model (sampling, adapters) is tested against vLLM itself in test_vllm_server.py.
"""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from serving.vllm.client import (
    BadRequest,
    PoolError,
    Sampling,
    ServerPool,
    ServerUnavailable,
    VLLMClient,
)
from serving.vllm.launcher import free_port

MESSAGES = [{"role": "user", "content": "Say hi."}]


def chat_answer(model: str = "m", text: str = "hi") -> dict:
    return {
        "id": "chatcmpl-1",
        "model": model,
        "choices": [{"index": 0, "message": {"content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    }


class ScriptedServer:
    """Answers each request with the next (status, body) of its script; the last repeats."""

    def __init__(self, script: list[tuple[int, dict]]):
        self.script = list(script)
        self.requests: list[tuple[str, dict | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, body: dict | None):
                server.requests.append((self.path, body))
                status, payload = (
                    server.script[0] if len(server.script) == 1 else (server.script.pop(0))
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer(None)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                self._answer(json.loads(self.rfile.read(length) or b"null"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@contextmanager
def scripted(*script: tuple[int, dict]) -> Iterator[ScriptedServer]:
    server = ScriptedServer(list(script))
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def test_refused_connection_is_server_unavailable_after_quick_retries():
    url = f"http://127.0.0.1:{free_port()}"
    client = VLLMClient(url, retries=2, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match="after 3 attempts") as caught:
        client.chat(model="m", messages=MESSAGES, sampling=Sampling())
    assert time.monotonic() - started < 2
    assert url in str(caught.value)
    assert client.health() is False  # never raises


def test_503_is_retried_then_succeeds():
    overloaded = (503, {"error": {"message": "busy"}})
    with scripted(overloaded, overloaded, (200, chat_answer(text="hello"))) as server:
        result = VLLMClient(server.url, retries=3, backoff=0.01).chat(
            model="m", messages=MESSAGES, sampling=Sampling()
        )
    assert result.choices[0].text == "hello"
    assert len(server.requests) == 3


def test_persistent_5xx_gives_server_unavailable_with_the_servers_message():
    dead_engine = (500, {"error": {"message": "EngineDeadError"}})
    with scripted(dead_engine) as server, pytest.raises(ServerUnavailable, match="EngineDead"):
        VLLMClient(server.url, retries=3, backoff=0.01).chat(
            model="m", messages=MESSAGES, sampling=Sampling()
        )
    assert len(server.requests) == 1  # 500 is not one of the transient statuses


def test_4xx_is_never_retried_and_carries_the_servers_message():
    refused = (400, {"error": {"message": "max_tokens is too large", "code": 400}})
    with scripted(refused) as server, pytest.raises(BadRequest, match="too large") as caught:
        VLLMClient(server.url, retries=3, backoff=0.01).chat(
            model="m", messages=MESSAGES, sampling=Sampling(max_tokens=10**6)
        )
    assert caught.value.status_code == 400
    assert len(server.requests) == 1


@pytest.mark.parametrize(("send_seed", "sent"), [(True, 7), (False, None)])
def test_seed_is_sent_only_when_allowed(send_seed, sent):
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=chat_answer())

    client = VLLMClient("http://vllm", send_seed=send_seed, transport=httpx.MockTransport(handler))
    result = client.chat(model="m", messages=MESSAGES, sampling=Sampling(n=3, seed=7))
    assert bodies[0].get("seed") == sent
    assert ("seed" in bodies[0]) is send_seed
    assert bodies[0]["n"] == 3
    assert result.seed == sent


def test_pool_goes_round_robin_and_fails_over_from_a_dead_server():
    dead = f"http://127.0.0.1:{free_port()}"
    with (
        scripted((200, chat_answer(text="a"))) as first,
        scripted((200, chat_answer(text="b"))) as second,
    ):
        pool = ServerPool([first.url, second.url], retries=0)
        texts = [
            pool.chat(model="m", messages=MESSAGES, sampling=Sampling()).choices[0].text
            for _ in range(4)
        ]
        assert sorted(texts) == ["a", "a", "b", "b"]

        pool = ServerPool([dead, second.url], retries=0)
        for _ in range(2):
            result = pool.chat(model="m", messages=MESSAGES, sampling=Sampling())
            assert result.choices[0].text == "b"


def test_pool_with_no_live_server_is_unavailable():
    pool = ServerPool([f"http://127.0.0.1:{free_port()}"], retries=0)
    with pytest.raises(ServerUnavailable, match="No model server answered"):
        pool.chat(model="m", messages=MESSAGES, sampling=Sampling())
    assert list(pool.health().values()) == [False]


def test_pool_loads_adapters_on_every_server_or_unloads_them_again_naming_the_failed():
    dead = f"http://127.0.0.1:{free_port()}"
    with scripted((200, {})) as live:
        pool = ServerPool([live.url, dead], retries=0)
        with pytest.raises(PoolError) as caught:
            pool.load_adapter(name="proj-v1", path="/adapters/proj-v1")
    message = str(caught.value)
    assert message.startswith(f"Could not load adapter 'proj-v1' on 1 of 2 servers: {dead}: ")
    assert message.endswith(f". It was unloaded again from {live.url}.")
    assert list(caught.value.failures) == [dead] and caught.value.unloaded == (live.url,)
    assert live.requests == [
        ("/v1/load_lora_adapter", {"lora_name": "proj-v1", "lora_path": "/adapters/proj-v1"}),
        ("/v1/unload_lora_adapter", {"lora_name": "proj-v1"}),
    ]


def test_a_failed_pool_load_leaves_the_adapter_where_it_was_loaded_before():
    """A server already serving the adapter (a retired version still compared with) keeps it."""
    dead = f"http://127.0.0.1:{free_port()}"
    already = (400, {"error": {"message": "The lora adapter 'proj-v1' has already been loaded."}})
    with scripted(already) as serving:
        pool = ServerPool([serving.url, dead], retries=0)
        with pytest.raises(PoolError) as caught:
            pool.load_adapter(name="proj-v1", path="/adapters/proj-v1")
    assert caught.value.unloaded == () and "unloaded again" not in str(caught.value)
    assert serving.paths == ["/v1/load_lora_adapter"]
