"""The vLLM server killed with SIGKILL while a real generation worker's refill has requests in
flight: the job ends normally and records the server down, each prompt has all n completions
of the live version or none, nothing judged is lost, the live version stays; once the server
is started again on the same port, the next refill fills the buffer."""

import os
import re
import signal

import httpx
import pytest

from labeling.models import Completion, Judgement
from labeling.selectors.generation import MIN_BUFFER, buffered_prompt_count
from labeling.services.projects import project_create
from labeling.services.prompts import prompt_create
from labeling.services.queue import judgement_submit, task_next
from labeling.tasks import completions_refill
from serving.models import ModelServer
from tests.factories import CompletionFactory, UserFactory
from tests.faults.conftest import wait_for, worker_kill, worker_start
from tests.fixtures.vllm import running_servers, vllm_server_config
from training.selectors.versions import live_version

pytestmark = [pytest.mark.vllm, pytest.mark.django_db(transaction=True)]

N = 2  # completions per prompt
ANSWERED_CHAT = ('handler="/v1/chat/completions"', 'status="2xx"')  # labels, in any order
WORKER = ("manage.py", "db_worker", "--queue-name", "generation", "--batch", "--no-reload")
WORKER_OPTIONS = ("--no-startup-delay", "--interval", "0.2", "--max-tasks", "1")
# Answered in a few tokens, and answers that run to max_tokens: the first requests are done
# while the others are still being sampled.
SHORT = ("Reply with only the word yes.", "Reply with only the number 7.")
LONG = (
    "Write a long, detailed essay on the history of bread, with many examples.",
    "Write a long story about a lighthouse keeper and a storm, in many paragraphs.",
)


@pytest.fixture
def server(base_model_dir, tmp_path):
    """A server of this test's own: it is killed."""
    model_dir, served_name = base_model_dir
    with running_servers(vllm_server_config(model_dir, served_name, tmp_path)) as (server,):
        yield server


@pytest.fixture
def env(worker_env, settings, server) -> dict[str, str]:
    settings.VLLM_URLS = [server.url]
    settings.VLLM_SEND_SEED = False
    settings.BASE_MODEL_NAME = server.served_name
    return {
        **worker_env,
        "VLLM_URLS": server.url,
        "VLLM_SEND_SEED": "0",
        "BASE_MODEL_NAME": server.served_name,
    }


def project_with_judged_prompts():
    """A project whose two first prompts are judged already, and whose buffer is empty."""
    project = project_create(
        name="Killed", slug="killed", task_kinds=["rank"], completions_per_prompt=N,
        temperature=0.3, max_tokens=96,
    )  # fmt: skip
    annotator = UserFactory()
    for topic in ("rain", "tea"):
        prompt = prompt_create(project=project, instruction=f"Say one sentence about {topic}.")
        CompletionFactory.create_batch(N, prompt=prompt)
        assignment = task_next(annotator=annotator, project=project)
        ranking = [[pk] for pk in assignment.completion_ids]
        judgement_submit(
            token=assignment.token, annotator=annotator, ranking=ranking, time_spent_ms=1
        )
    for index in range(MIN_BUFFER):
        pair = (SHORT, LONG)[index % 2]
        prompt_create(project=project, instruction=f"{pair[index // 2 % 2]} (#{index})")
    return project


def judged(project) -> list[tuple]:
    """Every judgement with what it judged: what must survive the kill unchanged."""
    rows = Judgement.objects.filter(prompt__project=project).order_by("pk")
    return [
        (j.pk, j.prompt_id, j.annotator_id, j.ranking, sorted(j.prompt.completions.values_list(
            "pk", "text", "model_version_id"
        )))
        for j in rows
    ]  # fmt: skip


def completions_per_prompt(project) -> dict[int, int]:
    live = live_version(project)
    return {
        prompt.pk: Completion.objects.filter(prompt=prompt, model_version=live).count()
        for prompt in project.prompts.all()
    }


def requests_on(server) -> tuple[float, float]:
    """(sequences being sampled, chat requests answered) from the server's /metrics. A request
    counts as answered once its whole response was sent (the HTTP layer's counter): the
    engine's own counters count each of a request's n sequences apart."""
    running = answered = 0.0
    for line in httpx.get(f"{server.url}/metrics", timeout=5).text.splitlines():
        name = re.split(r"[{ ]", line, maxsplit=1)[0]  # `name{labels} value` or `name value`
        value = float(line.rsplit(" ", 1)[-1]) if not line.startswith("#") else 0.0
        if name == "vllm:num_requests_running":
            running += value
        elif name == "http_requests_total" and all(label in line for label in ANSWERED_CHAT):
            answered += value
    return running, answered


def kill(server) -> None:
    """SIGKILL to the server's process group: the API server and its engine, no cleanup."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.popen.wait(timeout=30)


def refill_in_worker(project, env, log):
    """Enqueue a refill and let a real db_worker take it; returns the worker and the job."""
    job = completions_refill.enqueue(project.pk)
    return worker_start(env, log, *WORKER, *WORKER_OPTIONS), job


def test_a_server_killed_mid_refill_loses_nothing_and_generation_resumes(server, env, tmp_path):
    log = tmp_path / "worker.log"
    project = project_with_judged_prompts()
    live = live_version(project)
    before = judged(project)
    assert len(before) == 2 and buffered_prompt_count(project) == 0

    worker, job = refill_in_worker(project, env, log)
    try:
        # Some requests answered, others still running: the refill is half way through.
        wait_for(
            lambda: (counts := requests_on(server))[0] >= 1 and counts[1] >= 1,
            timeout_s=300,
            what="the server never had requests both answered and running",
            log=log,
        )
        kill(server)
        worker.wait(timeout=120)  # the job ends by itself: the refill gives up on the server
    finally:
        worker_kill(worker)

    job.refresh()
    assert job.status == "SUCCESSFUL", log.read_text()[-3000:]
    report = job.return_value
    assert report["requests"] == MIN_BUFFER and "ServerUnavailable" in report["error"]
    state = ModelServer.objects.get(url=server.url)
    assert state.state == ModelServer.State.DOWN and "ServerUnavailable" in state.last_error
    counts = completions_per_prompt(project)
    assert set(counts.values()) == {0, N}, counts  # some stored whole, the others none
    assert sum(counts.values()) == report["stored"] + 2 * N
    assert judged(project) == before
    assert live_version(project) == live and project.model_versions.count() == 1

    with running_servers(server.config) as (again,):  # the same port
        worker, job = refill_in_worker(project, env, log)
        try:
            worker.wait(timeout=300)
        finally:
            worker_kill(worker)
        job.refresh()
        assert job.status == "SUCCESSFUL", log.read_text()[-3000:]
        assert job.return_value["error"] == "" and not job.return_value["server_down"]
        assert set(completions_per_prompt(project).values()) == {N}
        assert buffered_prompt_count(project) == MIN_BUFFER
        assert ModelServer.objects.get(url=again.url).state == ModelServer.State.UP
        assert judged(project) == before and live_version(project) == live
