"""Several task workers against one PostgreSQL database, as on several hosts: two on the same
queue share its jobs and none runs twice; workers on other queues take only their own."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django_tasks_db.models import DBTaskResult

from tests.fixtures.databases import database_url
from tests.fixtures.jobs import run_noted

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[1]
SAME_QUEUE_JOBS = 40
OTHER_QUEUE_JOBS = 6


def worker(queue: str, worker_id: str, log: Path) -> subprocess.Popen:
    """`manage.py db_worker` in its own process, until its queue is empty (--batch)."""
    env = {**os.environ, "DATABASE_URL": database_url()}
    command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"]
    command += ["--queue-name", queue, "--worker-id", worker_id]
    with open(log, "ab") as handle:
        return subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )


def test_four_workers_on_three_queues_run_every_job_once(tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks (SELECT ... FOR UPDATE SKIP LOCKED) need PostgreSQL")
    noted = tmp_path / "runs.txt"
    queue_of = {}
    for job in range(SAME_QUEUE_JOBS):
        result = run_noted.enqueue(str(noted), job, 0.15)
        queue_of[result.id] = "default"
    for job in range(SAME_QUEUE_JOBS, SAME_QUEUE_JOBS + 2 * OTHER_QUEUE_JOBS):
        queue = "generation" if job % 2 else "training"
        result = run_noted.using(queue_name=queue).enqueue(str(noted), job, 0.0)
        queue_of[result.id] = queue

    workers = {
        "default-a": worker("default", "default-a", tmp_path / "a.log"),
        "default-b": worker("default", "default-b", tmp_path / "b.log"),
        "generation": worker("generation", "generation", tmp_path / "g.log"),
        "training": worker("training", "training", tmp_path / "t.log"),
    }
    for name, process in workers.items():
        assert process.wait(timeout=300) == 0, (tmp_path / f"{name[0]}.log").read_text()

    lines = noted.read_text().split()
    runs = Counter(int(job) for job in lines[::2])
    assert sorted(runs) == list(range(SAME_QUEUE_JOBS + 2 * OTHER_QUEUE_JOBS))
    assert set(runs.values()) == {1}, [job for job, count in runs.items() if count > 1]

    results = DBTaskResult.objects.all()
    assert {r.status for r in results} == {"SUCCESSFUL"}
    ran_by = {str(r.id): r.worker_ids for r in results}
    assert all(len(ids) == 1 for ids in ran_by.values())  # each claimed once, by one worker
    for task_id, queue in queue_of.items():
        (worker_id,) = ran_by[task_id]
        assert worker_id.startswith(queue), (task_id, queue, worker_id)
    shares = Counter(ids[0] for task_id, ids in ran_by.items() if queue_of[task_id] == "default")
    assert set(shares) == {"default-a", "default-b"}, shares  # both took part of one queue
