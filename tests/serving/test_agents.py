"""The agent beside each model server (serving.vllm.agent) and the app's side of it (serving.api).

The first tests need no model server: the token, the listing and its archives, the reports, the
admin's column, and a publish that no agent answers. The `vllm` tests run two real servers of
the bundled model, each with an agent in its own process talking to the app over HTTP: a
tampered archive is refused and makes nothing go live; a published adapter reaches both; a
server killed and started again on its port gets the adapter back from its agent while
generation for it keeps succeeding on the other.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from django.urls import reverse

from core.refusals import RefusalCode
from serving.config import server_pool
from serving.models import ModelServer
from serving.vllm.client import BadRequest, Sampling
from serving.vllm.launcher import VLLMProcess, free_port
from tests.factories import ProjectFactory
from tests.fixtures.vllm import REPO_ROOT, running_servers, vllm_server_config
from training.models import ModelVersion
from training.selectors.versions import live_version
from training.services.versions import PublishError, model_version_publish

TOKEN = "agent-secret-for-tests"
LISTING = "/api/serving/agent/adapters/"
REPORT = "/api/serving/agent/report/"
HELLO = [{"role": "user", "content": "Say hello."}]
CHANGELIST = "admin:serving_modelserver_changelist"


def bearer(token: str = TOKEN) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def candidate(project, number: int, adapter_path: str | Path) -> ModelVersion:
    base = live_version(project)
    return ModelVersion.objects.create(
        project=project,
        number=number,
        parent=base,
        base_model_path=base.base_model_path,
        adapter_path=str(adapter_path),
        served_name=f"{project.slug}-v{number}",
    )


@pytest.fixture
def agents_on(settings):
    """Two servers in VLLM_URLS (nothing need listen: the app never calls them here)."""
    settings.VLLM_URLS = ["http://127.0.0.1:9/", "http://127.0.0.2:9"]
    settings.SERVING_AGENT_TOKEN = TOKEN
    settings.VLLM_SEND_SEED = False
    return ["http://127.0.0.1:9", "http://127.0.0.2:9"]


@pytest.fixture
def small_adapter(tmp_path) -> Path:
    """A folder shaped like a PEFT adapter (the app only archives it; no server loads it)."""
    directory = tmp_path / "adapter"
    (directory / "nested").mkdir(parents=True)
    (directory / "adapter_config.json").write_text('{"r": 8}')
    (directory / "adapter_model.safetensors").write_bytes(bytes(range(256)) * 40)
    (directory / "nested" / "note.txt").write_text("kept")
    return directory


@pytest.mark.django_db
def test_agents_are_refused_without_the_token(client, settings, agents_on):
    answer = client.get(LISTING)
    assert answer.status_code == 401 and answer.json()["code"] == RefusalCode.AGENT_TOKEN_INVALID
    answer = client.get(LISTING, **bearer("wrong"))
    assert answer.status_code == 401 and answer.json()["code"] == RefusalCode.AGENT_TOKEN_INVALID
    answer = client.post(REPORT, {"server": agents_on[0], "adapters": []}, **bearer("wrong"))
    assert answer.status_code == 401
    assert not ModelServer.objects.exists()

    settings.SERVING_AGENT_TOKEN = ""  # an app without the setting lets no agent in at all
    answer = client.get(LISTING, **bearer(""))
    assert answer.status_code == 403 and answer.json()["code"] == RefusalCode.AGENTS_DISABLED
    assert "SERVING_AGENT_TOKEN" in answer.json()["detail"]


@pytest.mark.django_db
def test_the_listing_announces_each_wanted_adapter_with_the_digest_of_its_archive(
    client, agents_on, small_adapter, tmp_path
):
    project = ProjectFactory(slug="list")
    candidate(project, 1, small_adapter)
    candidate(project, 2, tmp_path / "gone")  # its folder is missing here: nothing to send

    listing = client.get(LISTING, **bearer()).json()
    (adapter,) = listing["adapters"]
    assert adapter["name"] == "list-v1"
    archive = client.get(adapter["url"], **bearer())
    assert archive.status_code == 200 and archive["Content-Type"] == "application/x-tar"
    body = b"".join(archive.streaming_content)
    assert hashlib.sha256(body).hexdigest() == adapter["sha256"] and len(body) == adapter["size"]
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert sorted(tar.getnames()) == [
            "adapter_config.json",
            "adapter_model.safetensors",
            "nested",
            "nested/note.txt",
        ]
        assert tar.extractfile("nested/note.txt").read() == b"kept"

    # The same files copied elsewhere (new times, new inode) give the same archive.
    copy = shutil.copytree(small_adapter, tmp_path / "copy")
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    ModelVersion.objects.filter(served_name="list-v1").update(adapter_path=str(copy))
    assert client.get(LISTING, **bearer()).json()["adapters"][0]["sha256"] == adapter["sha256"]

    refused = client.get(
        reverse("api:serving_agent_adapter_archive", args=["other-v1"]), **bearer()
    )
    assert refused.status_code == 404 and refused.json()["code"] == RefusalCode.ADAPTER_NOT_SERVED


@pytest.mark.django_db
def test_reports_are_recorded_and_shown_on_the_model_servers_page(admin_client, agents_on):
    report = {
        "server": agents_on[0] + "/",
        "adapters": ["rep-v2", "rep-v1"],
        "failures": {"rep-v3": "archive of rep-v3 refused: SHA-256 ..."},
        "error": "",
    }
    assert (
        admin_client.post(REPORT, report, content_type="application/json", **bearer()).status_code
        == 204
    )
    server = ModelServer.objects.get(url=agents_on[0])
    assert server.adapters == ["rep-v1", "rep-v2"] and "rep-v3" in server.adapter_failures

    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "rep-v1, rep-v2 (not loaded: rep-v3)" in page

    stranger = {"server": "http://10.0.0.1:8000", "adapters": []}
    answer = admin_client.post(REPORT, stranger, content_type="application/json", **bearer())
    assert answer.status_code == 404 and answer.json()["code"] == RefusalCode.UNKNOWN_SERVER


@pytest.mark.django_db
def test_a_publish_no_agent_answers_times_out_and_nothing_goes_live(
    settings, agents_on, small_adapter
):
    settings.SERVING_AGENT_PUBLISH_TIMEOUT = 1
    project = ProjectFactory(slug="quiet")
    version = candidate(project, 1, small_adapter)
    before = live_version(project)
    started = time.monotonic()
    with pytest.raises(PublishError) as refused:
        model_version_publish(version=version)
    assert time.monotonic() - started < 10
    message = str(refused.value)
    assert message.startswith("quiet-v1 stays a candidate; the live version is unchanged. ")
    assert "Timed out after 1s" in message and "its agent never reported" in message
    assert agents_on[0] in message and agents_on[1] in message
    assert live_version(project) == before
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.CANDIDATE


# --- two real vLLM servers, each with its agent -------------------------------------------


@pytest.fixture(scope="module")
def servers(base_model_dir, tmp_path_factory):
    model_dir, served_name = base_model_dir
    logs = tmp_path_factory.mktemp("vllm-agents")
    first = vllm_server_config(model_dir, served_name, logs)
    second = vllm_server_config(model_dir, served_name, logs)
    while second.port == first.port:
        second = vllm_server_config(model_dir, served_name, logs)
    with running_servers(first, second, timeout=600) as pair:
        yield pair


@pytest.fixture
def agent_settings(settings, servers):
    settings.VLLM_URLS = [server.url for server in servers]
    settings.VLLM_SEND_SEED = False
    settings.SERVING_AGENT_TOKEN = TOKEN
    settings.SERVING_AGENT_POLL_SECONDS = 1
    settings.SERVING_AGENT_PUBLISH_TIMEOUT = 90
    reverse("api:serving_agent_adapters")  # the URLs imported now, not at the first agent's call
    return settings


@pytest.fixture
def published_adapter(random_lora_adapter, tmp_path) -> Path:
    """The adapter where training leaves it on the app's host (the agents' caches are apart)."""
    return Path(shutil.copytree(random_lora_adapter, tmp_path / "app-disk" / "adapter"))


@contextmanager
def agent(app_url: str, server, cache: Path, log: Path) -> Iterator[subprocess.Popen]:
    """`python -m serving.vllm.agent` for one server, in its own process, stopped on exit."""
    command = [
        sys.executable,
        "-m",
        "serving.vllm.agent",
        *("--app", app_url, "--token", TOKEN, "--server", server.url, "--cache", str(cache)),
    ]
    with open(log, "ab") as handle:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def tampering_proxy(app_url: str) -> Iterator[str]:
    """A man in the middle: forwards to the app, flips one byte of every adapter archive."""

    class Handler(BaseHTTPRequestHandler):
        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            answer = httpx.request(
                self.command,
                app_url + self.path,
                content=self.rfile.read(length) if length else None,
                headers={
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() in {"authorization", "content-type"}
                },
            )
            body = bytearray(answer.content)
            if self.path.endswith("/archive/") and answer.status_code == 200:
                body[len(body) // 3] ^= 0xFF
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("content-type", ""))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(bytes(body))

        do_GET = do_POST = _forward

        def log_message(self, *args):
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()


def adapters_served(server) -> set[str]:
    return {model.id for model in server.client.models() if model.parent}


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting until {what}")
        time.sleep(0.5)


@pytest.mark.vllm
@pytest.mark.django_db(transaction=True)
def test_a_tampered_archive_is_refused_and_a_checked_one_goes_live_on_both_servers(
    agent_settings, servers, live_server, published_adapter, tmp_path, admin_client
):
    first, second = servers
    project = ProjectFactory(slug="agents")
    version = candidate(project, 1, published_adapter)
    before = live_version(project)

    with (
        tampering_proxy(live_server.url) as proxy,
        agent(live_server.url, first, tmp_path / "cache-1", tmp_path / "agent-1.log"),
    ):
        with (
            agent(proxy, second, tmp_path / "cache-2", tmp_path / "agent-2.log"),
            pytest.raises(PublishError) as refused,
        ):
            model_version_publish(version=version)
        message = str(refused.value)
        assert "agents-v1 stays a candidate; the live version is unchanged." in message
        assert f"on 1 of 2 servers: {second.url}: archive of agents-v1 refused: SHA-256 " in message
        assert first.url + ":" not in message
        assert live_version(project) == before
        assert "agents-v1" not in adapters_served(second)
        assert not any((tmp_path / "cache-2").iterdir())  # nothing unpacked from it
        page = admin_client.get(reverse(CHANGELIST)).content.decode()
        assert "(not loaded: agents-v1)" in page

        # The second server's agent now reaches the app directly: the archive checks out.
        with agent(live_server.url, second, tmp_path / "cache-2", tmp_path / "agent-2.log"):
            version = model_version_publish(version=version)
            assert version.status == ModelVersion.Status.LIVE
            for server in servers:
                assert adapters_served(server) == {"agents-v1"}, server.url
                answer = server.client.chat(
                    model="agents-v1", messages=HELLO, sampling=Sampling(max_tokens=4)
                )
                assert answer.choices[0].text
            for server in ModelServer.objects.filter(url__in=[first.url, second.url]):
                assert server.adapters == ["agents-v1"] and not server.adapter_failures
            page = admin_client.get(reverse(CHANGELIST)).content.decode()
            assert page.count("agents-v1, reported ") == 2


@pytest.mark.vllm
@pytest.mark.django_db(transaction=True)
def test_a_restarted_server_gets_the_adapter_back_while_generation_keeps_succeeding(
    agent_settings, servers, live_server, published_adapter, tmp_path
):
    first, second = servers
    project = ProjectFactory(slug="heal")
    name = "heal-v1"
    logs = [tmp_path / "agent-1.log", tmp_path / "agent-2.log"]
    with agent(live_server.url, second, tmp_path / "cache-2", logs[1]):
        with agent(live_server.url, first, tmp_path / "cache-1", logs[0]):
            model_version_publish(version=candidate(project, 1, published_adapter))
            assert all(name in adapters_served(server) for server in servers)

            answered, failed = [], []
            stop = threading.Event()

            def generate():
                pool = server_pool()
                try:
                    while not stop.is_set():
                        try:
                            result = pool.chat(
                                model=name, messages=HELLO, sampling=Sampling(max_tokens=4)
                            )
                            answered.append(result.model)
                        except Exception as exc:  # anything an annotator would see
                            failed.append(repr(exc))
                        time.sleep(0.2)
                finally:
                    pool.close()

            generator = threading.Thread(target=generate, daemon=True)
            generator.start()
            try:
                first.process.stop()  # the server dies, adapters and all
                assert not first.client.health()
                time.sleep(3)
                first.process = VLLMProcess(first.config)  # started again on the same port
                first.process.start()
                first.process.wait_healthy(timeout=600)
                wait_for(
                    lambda: name in adapters_served(first),
                    timeout=90,
                    what=f"the agent loads {name} back onto the restarted {first.url}",
                )
                time.sleep(2)
            finally:
                stop.set()
                generator.join(timeout=120)
            assert failed == [], failed
            assert len(answered) >= 5 and set(answered) == {name}

        # Its agent stopped, the first server loses the adapter: requests naming it are sent
        # on to the second (a 404 is not the end), and the agent, back, loads it again.
        first.client.unload_adapter(name=name)
        with pytest.raises(BadRequest) as missing:
            first.client.chat(model=name, messages=HELLO, sampling=Sampling(max_tokens=2))
        assert missing.value.status_code == 404
        pool = server_pool()
        try:
            for _ in range(4):  # round robin: two of them go to the first server first
                assert pool.chat(model=name, messages=HELLO, sampling=Sampling(max_tokens=2))
        finally:
            pool.close()
        with agent(live_server.url, first, tmp_path / "cache-1", logs[0]):
            wait_for(lambda: name in adapters_served(first), timeout=60, what="healed again")


@pytest.mark.django_db
def test_a_publish_of_an_adapter_missing_on_the_app_host_is_refused_at_once(agents_on, tmp_path):
    project = ProjectFactory(slug="gone")
    version = candidate(project, 1, tmp_path / "never-written")
    with pytest.raises(PublishError, match="is not on this host"):
        model_version_publish(version=version)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.CANDIDATE
