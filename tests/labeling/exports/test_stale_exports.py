"""An export whose worker died: failed after a while with its files removed, and started again
with the same settings; a killed worker never leaves a snapshot that looks complete."""

import os
import select
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from labeling.exports import snapshot
from labeling.models import DatasetExport
from labeling.services.exports import (
    STALE_AFTER_S,
    DatasetExportRefused,
    dataset_export_again,
    dataset_export_create,
    dataset_export_run,
    dataset_exports_fail_stale,
    snapshot_directory,
)
from tests.fixtures.databases import database_url
from tests.labeling.exports.builders import exported

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

STALE_MESSAGE = (
    "the export worker stopped before finishing (running for over 30 minutes); "
    "start the export again"
)
# Settings that differ from every default, so that "the same settings" means something.
SETTINGS = {
    "format": "preference",
    "rule": "majority",
    "split": (0.5, 0.25, 0.25),
    "seed": 7,
    "filters": {"date_from": "2000-01-01"},
    "options": {"conversational": False, "near_duplicates": False},
}


@pytest.fixture
def dummy_tasks(settings):
    """Enqueued tasks are recorded, not run."""
    from django_tasks import default_task_backend

    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "generation", "training"],
        }
    }
    return default_task_backend


def running_since(export: DatasetExport, seconds_ago: float) -> DatasetExport:
    started_at = timezone.now() - timedelta(seconds=seconds_ago)
    DatasetExport.objects.filter(pk=export.pk).update(status="running", started_at=started_at)
    export.refresh_from_db()
    return export


def leftover(export: DatasetExport, *, written_s_ago: float, name: str = "x1") -> Path:
    """A temporary snapshot directory as a killed worker leaves it, last written so long ago."""
    final = snapshot_directory(export)
    partial = final.parent / f".{final.name}{snapshot.PARTIAL_MARK}{name}"
    partial.mkdir(parents=True)
    (partial / "train.jsonl").write_text('{"prompt": "half a row')
    (partial / "test.jsonl").touch()
    then = time.time() - written_s_ago
    for path in (*partial.iterdir(), partial):
        os.utime(path, (then, then))
    return partial


def files_of(project_slug: str = "shop") -> list[str]:
    root = Path(django_settings.EXPORTS_DIR) / project_slug
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


# --- failing the stale ones -----------------------------------------------------------------------


def test_a_stale_running_export_becomes_failed_and_leaves_no_directory(project):
    export = running_since(dataset_export_create(project=project, format="kto"), 31 * 60)
    leftover(export, written_s_ago=31 * 60)

    assert dataset_exports_fail_stale() == 1

    export.refresh_from_db()
    assert export.status == DatasetExport.Status.FAILED
    assert export.error == STALE_MESSAGE
    assert export.finished_at is not None and export.path == ""
    assert files_of() == []
    assert dataset_exports_fail_stale() == 0  # failed once, not again


def test_a_complete_looking_directory_of_a_worker_killed_after_renaming_it_is_removed(project):
    """Killed between renaming the snapshot into place and recording it done."""
    export = running_since(dataset_export_create(project=project, format="kto"), 31 * 60)
    final = snapshot_directory(export)
    final.mkdir(parents=True)
    (final / "manifest.json").write_text("{}")
    then = time.time() - 31 * 60
    for path in (final / "manifest.json", final):
        os.utime(path, (then, then))

    assert dataset_exports_fail_stale() == 1

    assert DatasetExport.objects.get(pk=export.pk).status == DatasetExport.Status.FAILED
    assert files_of() == []


def test_a_recent_running_export_and_a_long_one_still_writing_are_left_alone(project):
    recent = running_since(dataset_export_create(project=project, format="kto"), 5 * 60)
    recent_files = leftover(recent, written_s_ago=5 * 60)
    long = running_since(dataset_export_create(project=project, format="kto"), 2 * 60 * 60)
    long_files = leftover(long, written_s_ago=10)  # started 2 h ago, wrote 10 s ago

    assert dataset_exports_fail_stale() == 0

    for export, files in ((recent, recent_files), (long, long_files)):
        export.refresh_from_db()
        assert export.status == DatasetExport.Status.RUNNING and export.error == ""
        assert (files / "train.jsonl").is_file()
    assert dataset_exports_fail_stale(max_age_s=5) == 2  # a shorter limit: both are stale


def test_a_done_export_is_left_alone_however_old(mixed_project):
    export = exported(mixed_project, "preference")
    old = timezone.now() - timedelta(days=3)
    DatasetExport.objects.filter(pk=export.pk).update(started_at=old, finished_at=old)
    manifest = Path(export.path) / "manifest.json"
    os.utime(manifest, (old.timestamp(), old.timestamp()))

    assert dataset_exports_fail_stale() == 0

    export.refresh_from_db()
    assert export.status == DatasetExport.Status.DONE and manifest.is_file()


def test_leftover_temporary_directories_of_exports_no_longer_running_are_removed(project):
    failed = dataset_export_create(project=project, format="kto")
    DatasetExport.objects.filter(pk=failed.pk).update(status="failed", error="disk full")
    leftover(failed, written_s_ago=60)
    gone = dataset_export_create(project=project, format="kto")
    leftover(gone, written_s_ago=60)
    gone.delete()
    running = running_since(dataset_export_create(project=project, format="kto"), 60)
    kept = leftover(running, written_s_ago=60)

    assert dataset_exports_fail_stale() == 0

    assert files_of() == [kept.name]


def test_a_run_declared_stale_while_it_ran_stays_failed_with_no_files(mixed_project, monkeypatch):
    """A worker that was only slow finishes after the verdict: the verdict and no files stand."""
    original = snapshot.SnapshotWriter.finish

    def finish_late(self, manifest):
        written = original(self, manifest)
        DatasetExport.objects.filter(pk=manifest["export_id"]).update(
            status="failed", error=STALE_MESSAGE
        )
        return written

    monkeypatch.setattr(snapshot.SnapshotWriter, "finish", finish_late)

    export = dataset_export_run(export=dataset_export_create(project=mixed_project, format="kto"))

    assert (export.status, export.error, export.content_hash) == ("failed", STALE_MESSAGE, "")
    assert files_of() == []


# --- starting it again ----------------------------------------------------------------------------


def test_export_again_makes_the_same_export_with_the_same_content(
    mixed_project, project_admin, dummy_tasks, django_capture_on_commit_callbacks
):
    reference = exported(mixed_project, **SETTINGS)
    failed = running_since(dataset_export_create(project=mixed_project, **SETTINGS), 31 * 60)
    dataset_exports_fail_stale()
    failed.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        again = dataset_export_again(export=failed, created_by=project_admin)

    assert again.pk not in (failed.pk, reference.pk)
    assert again.status == DatasetExport.Status.PENDING and again.created_by == project_admin
    same = ("format", "rule", "filters", "options", "split", "seed", "parquet")
    assert [getattr(again, name) for name in same] == [getattr(failed, name) for name in same]
    (queued,) = dummy_tasks.results
    assert queued.task.name == "dataset_export_task" and queued.args == [again.pk]
    again = dataset_export_run(export=again)
    assert again.status == DatasetExport.Status.DONE
    assert again.content_hash == reference.content_hash and again.rows_total > 0
    assert DatasetExport.objects.get(pk=failed.pk).status == DatasetExport.Status.FAILED


def test_only_a_failed_export_is_started_again(mixed_project):
    done = exported(mixed_project, "kto")
    pending = dataset_export_create(project=mixed_project, format="kto")

    for export in (done, pending):
        with pytest.raises(DatasetExportRefused, match="only a failed export"):
            dataset_export_again(export=export, created_by=None)
    assert DatasetExport.objects.count() == 2


# --- where admins and the worker look ------------------------------------------------------------


def test_the_admin_list_shows_a_dead_workers_export_failed_and_exports_it_again(
    client, mixed_project, project_admin, dummy_tasks, django_capture_on_commit_callbacks
):
    stale = running_since(dataset_export_create(project=mixed_project, **SETTINGS), 31 * 60)
    leftover(stale, written_s_ago=31 * 60)
    done = exported(mixed_project, "kto")
    client.force_login(project_admin)
    changelist = reverse("admin:labeling_datasetexport_changelist")

    listed = client.get(changelist).content.decode()
    page = client.get(reverse("admin:labeling_datasetexport_change", args=[stale.pk]))

    assert DatasetExport.objects.get(pk=stale.pk).status == DatasetExport.Status.FAILED
    assert "Failed" in listed and "Export again" in listed
    assert STALE_MESSAGE in page.content.decode()
    assert files_of() == [str(done.uid)]

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            changelist,
            {"action": "export_again", "_selected_action": [stale.pk, done.pk]},
            follow=True,
        )

    again = DatasetExport.objects.exclude(pk__in=[stale.pk, done.pk]).get()
    assert sorted(str(message) for message in answer.context["messages"]) == [
        f"Export #{done.pk} is done: only a failed export is started again.",
        f"Queued export #{stale.pk} again as #{again.pk}.",
    ]
    assert (again.format, again.rule, again.seed, again.split) == (
        "preference",
        "majority",
        7,
        (0.5, 0.25, 0.25),
    )
    assert again.created_by == project_admin
    assert [result.args for result in dummy_tasks.results] == [[again.pk]]


def test_the_worker_fails_stale_exports_before_each_export_and_on_each_tick(
    mixed_project, monkeypatch
):
    from labeling.services import generation_schedule
    from labeling.tasks import dataset_export_task, generation_tick

    first = running_since(dataset_export_create(project=mixed_project, format="kto"), 31 * 60)
    queued = dataset_export_create(project=mixed_project, format="kto")

    result = dataset_export_task.call(queued.pk)

    assert (result["status"], result["stale_failed"]) == ("done", 1)
    assert DatasetExport.objects.get(pk=first.pk).error == STALE_MESSAGE

    second = running_since(dataset_export_create(project=mixed_project, format="kto"), 31 * 60)
    monkeypatch.setattr(generation_schedule, "generation_tick_run", lambda: {"next_tick_s": 60})

    summary = generation_tick.call()

    assert summary["stale_exports_failed"] == 1
    assert DatasetExport.objects.get(pk=second.pk).status == DatasetExport.Status.FAILED


# --- a real worker, really killed -----------------------------------------------------------------

# Runs an export in a fresh interpreter and stops for good after three rows, so the parent
# kills it mid-write as the OOM killer or a `kill -9` would.
KILLED_WORKER = """
import sys, time
from pathlib import Path
import django
django.setup()
from django.conf import settings
from labeling.exports import snapshot
from labeling.models import DatasetExport
from labeling.services.exports import dataset_export_run

settings.EXPORTS_DIR = Path(sys.argv[2])
original = snapshot.SnapshotWriter.write

def write(self, split, row):
    original(self, split, row)
    if sum(self.rows_per_split().values()) == 3:
        print("writing", flush=True)
        time.sleep(120)

snapshot.SnapshotWriter.write = write
dataset_export_run(export=DatasetExport.objects.get(pk=int(sys.argv[1])))
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_write_leaves_no_complete_snapshot_and_is_failed_later(
    mixed_project, settings
):
    export = dataset_export_create(project=mixed_project, **SETTINGS)
    env = {**os.environ, "DATABASE_URL": database_url()}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, str(export.pk), str(settings.EXPORTS_DIR)],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([worker.stdout], [], [], 60)
        line = worker.stdout.readline() if ready else ""
        assert line == "writing\n", worker.stderr.read() if worker.poll() is not None else line
    finally:
        worker.kill()
        worker.wait(timeout=30)

    export.refresh_from_db()
    assert export.status == DatasetExport.Status.RUNNING  # nobody is left to say otherwise
    (partial,) = (Path(settings.EXPORTS_DIR) / "shop").iterdir()
    assert partial.name.startswith(f".{export.uid}.partial-")  # hidden, and no manifest
    assert not (partial / "manifest.json").exists()
    assert not snapshot_directory(export).exists()
    assert dataset_exports_fail_stale() == 0  # too recent to call

    running_since(export, STALE_AFTER_S + 60)
    then = time.time() - STALE_AFTER_S - 60
    for path in (*partial.iterdir(), partial):
        os.utime(path, (then, then))
    assert dataset_exports_fail_stale() == 1

    export.refresh_from_db()
    assert (export.status, export.error) == ("failed", STALE_MESSAGE)
    assert files_of() == []
    again = dataset_export_run(export=dataset_export_again(export=export, created_by=None))
    assert again.status == DatasetExport.Status.DONE and again.rows_total > 0
    assert files_of() == [str(again.uid)]
