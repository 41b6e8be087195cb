"""The training worker killed with SIGKILL: mid-run, and between putting the adapter in place and
recording its version. Either way the run is failed as stale with a clear error, no version is
made, the live version stays, nothing left on disk looks like a model, and the next run works."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ProjectFactory
from tests.faults.conftest import wait_for, worker_kill, worker_start
from tests.training.engine import snapshots as S
from tests.training.engine.conftest import _few_threads, tiny_model_dir  # noqa: F401
from training.engine.publish import read_meta
from training.models import ModelVersion, TrainingRun
from training.services.runs import adapters_root, training_run_create, training_runs_fail_stale

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {
    "learning_rate": 5e-3,
    "batch_size": 2,
    "max_length": 128,
    "max_steps": 1,
    "eval_max_samples": 2,
    "eval_max_new_tokens": 4,
}
LONG = 2000  # steps: far more than the worker gets through before it is killed
WORKER = ("manage.py", "db_worker", "--queue-name", "training", "--batch", "--no-reload")
WORKER_OPTIONS = ("--no-startup-delay", "--interval", "0.2", "--max-tasks", "1")
STALE_ERROR = "worker stopped responding (no heartbeat for over 1 s)"

# The real worker, stopped for good at one instant: just after the run's adapter directory was
# renamed into place as v<k>, before the transaction recording its version commits.
KILLED_AFTER_RENAME = """
import os, sys, time
import django
django.setup()
from django.core.management import call_command

rename = os.rename

def rename_then_hang(source, target):
    rename(source, target)
    if os.path.basename(target).startswith("v"):
        print("renamed", target, flush=True)
        time.sleep(600)

os.rename = rename_then_hang
call_command("db_worker", *sys.argv[1:])
"""


@pytest.fixture
def project(tiny_model_dir):  # noqa: F811
    project = ProjectFactory(slug="tiny")
    project.model_versions.filter(number=0).update(base_model_path=str(tiny_model_dir))
    return project


@pytest.fixture
def snapshot(tmp_path):
    return S.write_snapshot(
        tmp_path / "snapshot", S.preference_rows(8), S.preference_rows(2, offset=8)
    )


def queued(project, snapshot, **overrides) -> TrainingRun:
    """A run as the admin starts it: stored, and handed to the task queue in the database."""
    return training_run_create(
        project=project, method="dpo", snapshot_dir=snapshot, overrides={**FAST, **overrides}
    )


def adapter_files(project) -> list[str]:
    root = adapters_root(project)
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


def fail_once_silent(run: TrainingRun) -> int:
    """training_runs_fail_stale with a 1 s limit, once the run has been silent for longer."""
    run.refresh_from_db()
    silent_since = run.heartbeat_at or run.started_at
    wait = (silent_since + timedelta(seconds=1.5) - timezone.now()).total_seconds()
    time.sleep(max(wait, 0))
    return training_runs_fail_stale(max_silence_s=1)


def assert_failed_stale_and_nothing_published(run: TrainingRun, project) -> None:
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith(STALE_ERROR), run.error
    assert run.result_version is None and run.finished_at is not None
    assert list(project.model_versions.values_list("number", "status")) == [
        (0, ModelVersion.Status.LIVE)
    ]
    assert adapter_files(project) == []  # no adapter, no staging or scratch directory


def assert_the_next_run_publishes(project, snapshot, worker_env, log) -> None:
    """A new run, trained by a new worker, becomes the candidate v1; v0 stays live."""
    run = queued(project, snapshot)
    worker = worker_start(worker_env, log, *WORKER, *WORKER_OPTIONS)
    try:
        worker.wait(timeout=300)
    finally:
        worker_kill(worker)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error or log.read_text()[-3000:]
    assert (run.result_version.number, run.result_version.status) == (1, "candidate")
    assert project.model_versions.get(status=ModelVersion.Status.LIVE).number == 0
    assert adapter_files(project) == ["v1"]
    assert read_meta(adapters_root(project) / "v1")["training_run"] == run.pk


def test_a_training_worker_killed_mid_run_is_failed_as_stale_and_publishes_nothing(
    project, snapshot, worker_env, tmp_path
):
    log = tmp_path / "worker.log"
    run = queued(project, snapshot, max_steps=LONG)
    worker = worker_start(worker_env, log, *WORKER, *WORKER_OPTIONS)
    try:
        wait_for(
            lambda: TrainingRun.objects.filter(pk=run.pk, step__gte=1).exists(),
            timeout_s=300,
            what="the worker reported no training step",
            log=log,
        )
        assert training_runs_fail_stale(max_silence_s=60) == 0  # alive: left to train
        assert any(name.startswith(f"..run-{run.pk}.work-") for name in adapter_files(project))
    finally:
        worker_kill(worker)

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING  # nobody is left to say otherwise
    assert 1 <= run.step < LONG
    assert fail_once_silent(run) == 1
    assert_failed_stale_and_nothing_published(run, project)
    assert training_runs_fail_stale(max_silence_s=1) == 0  # failed once, not again
    assert_the_next_run_publishes(project, snapshot, worker_env, log)


@pytest.mark.postgres  # where the killed worker's open transaction is rolled back by the server
def test_a_worker_killed_after_renaming_the_adapter_into_place_leaves_no_orphan_version(
    project, snapshot, worker_env, tmp_path
):
    """The directory v1 is complete on disk, but its version was never recorded: without
    removing it, every later run would fail on "v1 already exists"."""
    log = tmp_path / "worker.log"
    run = queued(project, snapshot)
    worker = worker_start(worker_env, log, "-c", KILLED_AFTER_RENAME, *WORKER[2:], *WORKER_OPTIONS)
    try:
        wait_for(
            lambda: "renamed" in log.read_text(errors="replace"),
            timeout_s=300,
            what="the worker never put the adapter in place",
            log=log,
        )
    finally:
        worker_kill(worker)

    orphan = adapters_root(project) / "v1"
    assert (orphan / "adapter_model.safetensors").is_file()  # looks complete
    assert read_meta(orphan)["training_run"] == run.pk
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING
    assert not ModelVersion.objects.filter(number=1).exists()
    assert fail_once_silent(run) == 1
    assert_failed_stale_and_nothing_published(run, project)
    assert_the_next_run_publishes(project, snapshot, worker_env, log)
