"""Pre-generation of completions: buffer target, refill, model-server state, the tick."""

import socket
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from labeling.models import Completion, QueueItem, Role, TaskKind
from labeling.selectors.generation import (
    MIN_BUFFER,
    PER_ANNOTATOR,
    buffer_target,
    buffer_target_for,
    buffered_prompt_count,
    generation_status,
)
from labeling.services.generation import completion_jobs, completions_refill, in_compare_share
from labeling.services.generation_schedule import generation_tick_schedule
from labeling.services.projects import membership_grant, project_create
from labeling.services.prompts import prompt_create
from labeling.tasks import generation_tick
from serving.models import ModelServer
from serving.selectors import model_servers_available, model_servers_retry_at
from serving.services import (
    BACKOFF_MAX_S,
    backoff_delay,
    model_server_record_failure,
    model_server_record_ok,
)
from training.models import ModelVersion
from training.selectors.versions import live_version

pytestmark = pytest.mark.django_db


def _dead_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _project(slug="gen", *, prompts=0, max_tokens=16, **kwargs):
    project = project_create(name=slug, slug=slug, max_tokens=max_tokens, **kwargs)
    for i in range(prompts):
        prompt_create(project=project, instruction=f"Name one fruit that is {i} letters long.")
    return project


# --- fast: no model server -------------------------------------------------------------


def test_buffer_target_grows_with_annotators_active_in_the_last_half_hour():
    assert buffer_target_for(active_annotators=0) == MIN_BUFFER
    assert buffer_target_for(active_annotators=10) == 10 * PER_ANNOTATOR

    project = _project()
    users = get_user_model().objects
    now = timezone.now()
    recent = [users.create_user(f"a{i}", last_login=now - timedelta(minutes=5)) for i in range(3)]
    stale = users.create_user("stale", last_login=now - timedelta(hours=2))
    reviewer = users.create_user("reviewer", last_login=now)
    for user in [*recent, stale]:
        membership_grant(project=project, user=user, role=Role.ANNOTATOR)
    membership_grant(project=project, user=reviewer, role=Role.REVIEWER)

    assert buffer_target(project) == max(MIN_BUFFER, 3 * PER_ANNOTATOR)


def test_backoff_doubles_from_five_seconds_up_to_five_minutes():
    assert [backoff_delay(consecutive_failures=n) for n in range(1, 5)] == [5, 10, 20, 40]
    assert backoff_delay(consecutive_failures=7) == BACKOFF_MAX_S == 300
    assert backoff_delay(consecutive_failures=10_000) == BACKOFF_MAX_S


def test_server_state_follows_failures_and_recovery():
    url = "http://10.0.0.1:8100"
    assert model_servers_available(urls=[url])  # never checked: not reported down

    model_server_record_failure(url=url, error="ServerUnavailable: connection refused")
    server = model_server_record_failure(url=url, error="ServerUnavailable: connection refused")
    assert server.state == ModelServer.State.DOWN
    assert server.consecutive_failures == 2
    assert server.last_error == "ServerUnavailable: connection refused"
    wait = (server.next_retry_at - server.last_checked_at).total_seconds()
    assert wait == pytest.approx(10)
    assert not model_servers_available(urls=[url])
    assert model_servers_retry_at(urls=[url]) == server.next_retry_at
    # A second server that is up keeps generation going.
    assert model_servers_available(urls=[url, "http://10.0.0.2:8100"])

    server = model_server_record_ok(url=url)
    assert server.state == ModelServer.State.UP
    assert server.consecutive_failures == 0 and server.next_retry_at is None
    assert model_servers_retry_at(urls=[url]) is None


def test_refill_with_no_server_listening_records_it_down_and_backs_off(settings):
    dead = _dead_url()
    settings.VLLM_URLS = [dead]
    settings.VLLM_SEND_SEED = False
    project = _project(prompts=3)

    report = completions_refill(project=project)  # must not raise

    assert report.server_down and report.requests == 3 and report.stored == 0
    server = ModelServer.objects.get(url=dead)
    assert server.state == ModelServer.State.DOWN and server.last_error
    assert not Completion.objects.exists()
    status = generation_status(project)
    assert status["server_up"] is False and status["retry_at"] == server.next_retry_at

    again = completions_refill(project=project)
    assert again.backed_off and again.requests == 0


def test_only_one_tick_is_ever_pending():
    ticks = DBTaskResult.objects.filter(
        task_path=generation_tick.module_path, status=TaskResultStatus.READY
    )
    assert generation_tick_schedule(delay_s=60)
    assert not generation_tick_schedule(delay_s=5)
    call_command("generation_start")
    call_command("generation_start")
    assert ticks.count() == 1
    # generation_start brings the pending tick forward instead of adding one.
    assert ticks.get().run_after <= timezone.now()
    assert ticks.get().queue_name == "generation"


def test_a_down_server_backs_the_tick_off_without_sending(settings):
    dead = _dead_url()
    settings.VLLM_URLS = [dead]
    project = _project(prompts=2)
    server = model_server_record_failure(url=dead, error="ServerUnavailable: refused")

    summary = generation_tick.call()

    assert summary["refills"] == [] and not Completion.objects.filter(prompt__project=project)
    assert summary["next_tick_s"] == pytest.approx(5, abs=1)
    tick = DBTaskResult.objects.get(
        task_path=generation_tick.module_path, status=TaskResultStatus.READY
    )
    assert abs(tick.run_after - server.next_retry_at) < timedelta(seconds=2)


def test_admin_shows_each_server_state_and_last_error(client):
    model_server_record_ok(url="http://gpu-1:8000")
    model_server_record_failure(url="http://gpu-2:8000", error="ServerUnavailable: timed out")
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)

    page = client.get("/admin/serving/modelserver/").content.decode()

    assert "http://gpu-1:8000" in page and "http://gpu-2:8000" in page
    assert "Down" in page and "Up" in page and "ServerUnavailable: timed out" in page
    assert client.get("/admin/serving/modelserver/add/").status_code == 403
    # The address from before ModelServer moved to the serving app still leads there.
    assert client.get("/admin/training/modelserver/?state=down").url == (
        "/admin/serving/modelserver/?state=down"
    )


def test_compare_share_sends_the_replaced_version_too(settings):
    settings.VLLM_URLS = ["http://127.0.0.1:1"]
    settings.VLLM_SEND_SEED = False
    project = _project(prompts=2)
    base = live_version(project)
    base.status = ModelVersion.Status.RETIRED
    base.save()
    v1 = ModelVersion.objects.create(
        project=project,
        number=1,
        parent=base,
        base_model_path=base.base_model_path,
        adapter_path="/adapters/gen-v1",
        served_name="gen-v1",
        status=ModelVersion.Status.LIVE,
    )
    prompts = list(project.prompts.order_by("pk"))

    jobs = completion_jobs(
        project=project, prompts=prompts, live=v1, compare=base, compare_share=1.0
    )

    assert sorted((job.key[0].pk, job.model) for job in jobs) == sorted(
        (prompt.pk, name) for prompt in prompts for name in ("gen-v1", base.served_name)
    )
    assert all(job.sampling.n == project.completions_per_prompt for job in jobs)
    assert all(job.sampling.seed is None for job in jobs)


def test_judged_prompts_leave_the_buffer_and_writing_only_projects_get_no_completions(settings):
    settings.VLLM_URLS = [_dead_url()]
    project = _project(prompts=2, task_kinds=[TaskKind.RANK], completions_per_prompt=2)
    version = live_version(project)
    judged, fresh = project.prompts.order_by("pk")
    for prompt in (judged, fresh):
        for index in range(2):
            Completion.objects.create(
                prompt=prompt, model_version=version, text=f"answer {index}", index=index
            )
    assert buffered_prompt_count(project) == 2
    QueueItem.objects.create(
        project=project, prompt=judged, kind=TaskKind.RANK, model_version=version, taken=1
    )
    assert buffered_prompt_count(project) == 1

    writing = _project("writing", prompts=3, task_kinds=[TaskKind.WRITE])
    report = completions_refill(project=writing)
    assert report.requests == 0 and not ModelServer.objects.exists()


def test_compare_share_is_a_stable_fraction_of_prompts():
    picked = [in_compare_share(prompt_id, 0.25) for prompt_id in range(4000)]
    assert 0.2 < sum(picked) / len(picked) < 0.3
    assert picked == [in_compare_share(prompt_id, 0.25) for prompt_id in range(4000)]
    assert not any(in_compare_share(prompt_id, 0.0) for prompt_id in range(100))


# --- with a real vLLM server ------------------------------------------------------------


@pytest.mark.vllm
def test_refill_stores_n_distinct_completions_with_their_provenance(live_server_settings):
    project = _project(prompts=1, completions_per_prompt=4, temperature=1.0, max_tokens=24)
    version = live_version(project)

    report = completions_refill(project=project)

    assert report.requests == 1 and report.stored == 4 and not report.server_down
    completions = list(Completion.objects.filter(prompt__project=project).order_by("index"))
    assert [c.index for c in completions] == [0, 1, 2, 3]
    assert len({c.text for c in completions}) == 4
    for completion in completions:
        assert completion.model_version == version
        assert completion.text.strip()
        assert completion.sampling_params == {
            "n": 4,
            "temperature": 1.0,
            "top_p": 0.95,
            "max_tokens": 24,
        }
        assert completion.finish_reason in {"stop", "length"}
        assert completion.prompt_tokens > 0
        assert 0 < completion.completion_tokens <= 24
        if completion.finish_reason == "length":
            assert completion.completion_tokens == 24
        assert completion.latency_ms > 0
        assert completion.request_id == completions[0].request_id
        assert completion.seed is None  # seeds are not sent to the CPU engine
    server = ModelServer.objects.get(url=live_server_settings.VLLM_URLS[0])
    assert server.state == ModelServer.State.UP


@pytest.mark.vllm
def test_refill_fills_the_buffer_to_target_once(live_server_settings):
    project = _project(prompts=MIN_BUFFER + 3, completions_per_prompt=2, max_tokens=8)

    first = completions_refill(project=project)
    second = completions_refill(project=project)

    assert first.requests == MIN_BUFFER and first.stored == 2 * MIN_BUFFER
    assert buffered_prompt_count(project) == MIN_BUFFER == buffer_target(project)
    assert second.requests == 0 and second.stored == 0


@pytest.mark.vllm
def test_generation_resumes_by_itself_when_the_server_comes_back(live_server_settings):
    live_url = live_server_settings.VLLM_URLS[0]
    project = _project(prompts=MIN_BUFFER, completions_per_prompt=2, max_tokens=8)
    completions_refill(project=project, max_prompts=3)
    assert buffered_prompt_count(project) == 3

    dead = _dead_url()
    live_server_settings.VLLM_URLS = [dead]
    down = completions_refill(project=project)
    assert down.server_down and down.stored == 0
    server = ModelServer.objects.get(url=dead)
    assert server.state == ModelServer.State.DOWN and server.last_error
    assert generation_status(project)["server_up"] is False
    assert buffered_prompt_count(project) == 3

    live_server_settings.VLLM_URLS = [live_url]  # the server is back
    summary = generation_tick.call()  # what the worker runs

    assert buffered_prompt_count(project) == MIN_BUFFER
    assert ModelServer.objects.get(url=live_url).state == ModelServer.State.UP
    status = generation_status(project)
    assert status["server_up"] and status["buffered"] == status["target"] == MIN_BUFFER
    assert summary["refills"][0]["stored"] == 2 * (MIN_BUFFER - 3)
    pending = DBTaskResult.objects.filter(
        task_path=generation_tick.module_path, status=TaskResultStatus.READY
    )
    assert pending.count() == 1  # the tick enqueued its successor
