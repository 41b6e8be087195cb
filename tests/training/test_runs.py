"""Training runs through the services: a tiny DPO run becomes a candidate version; failures,
cancellation and dead workers leave the live version alone; publishing needs every server."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.factories import ProjectFactory, UserFactory
from tests.training.conftest import cancel_after_first_step
from tests.training.engine import snapshots as S
from training.models import ModelVersion, TrainingRun
from training.selectors.versions import comparison_version
from training.services.runs import (
    training_run_cancel,
    training_run_create,
    training_run_execute,
    training_runs_fail_stale,
)
from training.services.versions import PublishError, model_version_publish, model_version_rollback

pytestmark = pytest.mark.django_db

FAST = {
    "learning_rate": 5e-3,
    "batch_size": 2,
    "max_length": 128,
    "max_steps": 3,
    "eval_max_samples": 2,
    "eval_max_new_tokens": 4,
}


@pytest.fixture
def models_dir(settings, tmp_path):
    settings.MODELS_DIR = tmp_path / "models"
    return settings.MODELS_DIR


@pytest.fixture
def project(tiny_model_dir):
    project = ProjectFactory(slug="tiny")
    project.model_versions.filter(number=0).update(base_model_path=str(tiny_model_dir))
    return project


@pytest.fixture
def snapshot(tmp_path):
    return S.write_snapshot(
        tmp_path / "snapshot", S.preference_rows(8), S.preference_rows(2, offset=8)
    )


def live(project):
    return project.model_versions.get(status=ModelVersion.Status.LIVE)


def create(project, snapshot, **overrides):
    return training_run_create(
        project=project,
        method="dpo",
        snapshot_dir=snapshot,
        overrides={**FAST, **overrides},
        enqueue=False,
    )


def test_dpo_run_makes_a_candidate_version_with_its_adapter(project, snapshot, models_dir):
    base = live(project)
    run = training_run_execute(run=create(project, snapshot))

    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.step == run.total_steps == 3
    assert run.history[0]["kind"] == "start"
    assert sum(1 for e in run.history if e["loss"] is not None) >= 3
    assert run.started_at <= run.finished_at
    version = run.result_version
    assert version.status == ModelVersion.Status.CANDIDATE
    assert (version.number, version.served_name, version.parent) == (1, "tiny-v1", base)
    adapter = models_dir / "adapters" / "tiny" / "v1"
    assert version.adapter_path == str(adapter.resolve())
    assert (adapter / "adapter_model.safetensors").is_file()
    meta = json.loads((adapter / "meta.json").read_text())
    assert meta["method"] == "dpo" and meta["served_name"] == "tiny-v1"
    assert "loss" in version.metrics
    assert live(project) == base  # training alone never changes what is served
    assert run.publish == TrainingRun.Publish.MANUAL  # the service's default: keep a candidate
    assert run.gate["verdict"] == "better" and run.gate["published"] is False
    assert run.gate["outcome"].startswith("tiny-v1 stays a candidate (publish by hand)")
    assert not [p for p in adapter.parent.iterdir() if p.name.startswith(".")]


def test_bad_settings_are_refused_before_queueing(project, snapshot):
    with pytest.raises(ValidationError, match="unknown setting"):
        create(project, snapshot, no_such_setting=1)
    with pytest.raises(ValidationError, match=r"manifest\.json"):
        create(project, snapshot.parent / "missing")
    assert not TrainingRun.objects.exists()


def test_a_corrupt_snapshot_fails_the_run_and_publishes_nothing(project, snapshot, models_dir):
    run = create(project, snapshot)
    (snapshot / "train.jsonl").write_text('{"prompt": "half a row"\n')
    run = training_run_execute(run=run)

    assert run.status == TrainingRun.Status.FAILED
    assert "train.jsonl" in run.error
    assert run.result_version is None
    adapters = models_dir / "adapters" / "tiny"
    assert not adapters.exists() or not any(adapters.iterdir())
    assert live(project).number == 0
    assert project.model_versions.count() == 1


def test_cancel_stops_a_run_without_publishing(project, snapshot, models_dir, monkeypatch):
    queued = create(project, snapshot)
    assert training_run_cancel(run=queued).status == TrainingRun.Status.CANCELLED
    assert training_run_execute(run=queued).status == TrainingRun.Status.CANCELLED

    cancel_after_first_step(monkeypatch)
    run = training_run_execute(run=create(project, snapshot, max_steps=50))

    assert run.status == TrainingRun.Status.CANCELLED
    assert 1 <= run.step < 50
    assert run.result_version is None
    assert project.model_versions.count() == 1
    assert not any((models_dir / "adapters" / "tiny").iterdir())


def test_a_run_whose_worker_went_silent_is_failed(project, snapshot):
    run = create(project, snapshot)
    old = timezone.now() - timedelta(minutes=30)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, started_at=old, heartbeat_at=old
    )
    fresh = create(project, snapshot)
    TrainingRun.objects.filter(pk=fresh.pk).update(
        status=TrainingRun.Status.RUNNING, started_at=old, heartbeat_at=timezone.now()
    )

    assert training_runs_fail_stale(max_silence_s=60) == 1
    run.refresh_from_db()
    fresh.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert "worker stopped responding" in run.error
    assert fresh.status == TrainingRun.Status.RUNNING


def candidate(project, tmp_path, number=1):
    adapter = tmp_path / f"v{number}"
    adapter.mkdir()
    return ModelVersion.objects.create(
        project=project,
        number=number,
        parent=live(project),
        base_model_path="/models/base",
        adapter_path=str(adapter),
        served_name=f"{project.slug}-v{number}",
    )


def test_publish_when_a_server_cannot_load_keeps_the_live_version(project, tmp_path, settings):
    settings.VLLM_URLS = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    settings.VLLM_SEND_SEED = False
    version = candidate(project, tmp_path)

    with pytest.raises(PublishError, match=r"127\.0\.0\.1:9"):
        model_version_publish(version=version)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.CANDIDATE
    assert live(project).number == 0


def test_rollback_to_the_base_needs_no_server(project, tmp_path, settings):
    settings.VLLM_URLS = ["http://127.0.0.1:9"]
    version = candidate(project, tmp_path)
    base = live(project)
    ModelVersion.objects.filter(pk=base.pk).update(status=ModelVersion.Status.RETIRED)
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.LIVE)

    model_version_rollback(version=base)
    assert live(project) == base
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.RETIRED


def test_each_live_version_is_compared_with_the_one_it_replaced(project):
    base = live(project)
    v1, v2, v3 = (
        ModelVersion.objects.create(  # full-weight versions: no adapter, no server involved
            project=project,
            number=k,
            parent=base,
            base_model_path="/models/base",
            served_name=f"tiny-v{k}",
        )
        for k in (1, 2, 3)
    )
    model_version_publish(version=v1)
    model_version_publish(version=v2)
    assert comparison_version(project, live=live(project)) == v1
    model_version_rollback(version=v1)
    assert comparison_version(project, live=live(project)) == v2  # back to v1: against v2
    model_version_publish(version=v3)
    # v3 replaced v1, not v2 (the newest retired version) nor its parent, the base.
    assert live(project) == v3 and comparison_version(project, live=v3) == v1


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_run_page_shows_progress_and_polls_while_running(project, snapshot, admin_client):
    run = create(project, snapshot)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now() - timedelta(seconds=30),
        step=2,
        total_steps=8,
        loss=0.61,
        metrics={"rewards/accuracies": 0.75},
        history=[
            {"kind": "log", "step": s, "total_steps": 8, "loss": 0.7 - s / 20, "metrics": {}}
            for s in (1, 2)
        ],
    )
    page = admin_client.get(reverse("admin:training_trainingrun_change", args=[run.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "2 / 8" in html and "0.6100" in html and "rewards/accuracies" in html
    assert 'hx-trigger="every 2s"' in html and "<svg" in html and "htmx" in html
    assert "Cancel run" in html

    fragment_url = reverse("training:run_progress", args=[run.pk])
    fragment = admin_client.get(fragment_url, HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert "2 / 8" in body and "<html" not in body and 'id="run-progress"' in body
    assert admin_client.get(fragment_url).status_code == 302  # the full page instead

    cancel = admin_client.post(reverse("training:run_cancel", args=[run.pk]))
    assert cancel.status_code == 302
    run.refresh_from_db()
    assert run.cancel_requested


def test_a_finished_run_stops_polling_and_keeps_its_history(project, snapshot, admin_client):
    run = create(project, snapshot)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.FAILED,
        error="boom: the snapshot is empty",
        history=[{"kind": "log", "step": 1, "total_steps": 2, "loss": 0.5, "metrics": {}}],
    )
    html = admin_client.get(
        reverse("admin:training_trainingrun_change", args=[run.pk])
    ).content.decode()
    assert "boom: the snapshot is empty" in html
    assert "every 2s" not in html and "Cancel run" not in html
    assert "<svg" in html


def test_start_training_run_from_the_project_admin(project, snapshot, admin_client):
    changelist = reverse("admin:labeling_project_changelist")
    chosen = {"action": "start_training_run", "_selected_action": [project.pk]}
    form = admin_client.post(changelist, chosen)
    assert form.status_code == 200 and "Start training run" in form.content.decode()

    refused = admin_client.post(
        changelist,
        {
            **chosen,
            "apply": "1",
            "method": "dpo",
            "snapshot_dir": str(snapshot),
            "overrides": '{"dpo": {"beta": -1}}',
        },
    )
    assert refused.status_code == 200 and not TrainingRun.objects.exists()
    assert "beta" in refused.content.decode()

    started = admin_client.post(
        changelist,
        {
            **chosen,
            "apply": "1",
            "method": "dpo",
            "snapshot_dir": str(snapshot),
            "overrides": json.dumps(FAST),
        },
    )
    run = TrainingRun.objects.get()
    assert started.status_code == 302
    assert started["Location"] == reverse("admin:training_trainingrun_change", args=[run.pk])
    assert (run.status, run.method, run.config["max_steps"]) == ("queued", "dpo", 3)
    assert run.base_version == live(project)


def test_train_on_an_export_from_the_export_admin(project, snapshot, admin_client):
    from labeling.models import DatasetExport

    export = DatasetExport.objects.create(
        project=project, format="preference", status="done", path=str(snapshot)
    )
    pending = DatasetExport.objects.create(project=project, format="preference")
    changelist = reverse("admin:labeling_datasetexport_changelist")
    refused = admin_client.post(
        changelist,
        {"action": "train_on_export", "_selected_action": [pending.pk]},
        follow=True,
    )
    assert "is pending, not done" in refused.content.decode()

    chosen = {"action": "train_on_export", "_selected_action": [export.pk]}
    form = admin_client.post(changelist, chosen)
    html = form.content.decode()
    assert form.status_code == 200 and "Start training run" in html
    assert form.context["form"]["method"].value() == "dpo"  # the method that fits the format
    assert form.context["form"]["export"].value() == export.pk

    started = admin_client.post(
        changelist,
        {
            **chosen,
            "apply": "1",
            "method": "dpo",
            "export": export.pk,
            "overrides": json.dumps(FAST),
            "publish": "manual",
        },
    )
    run = TrainingRun.objects.get()
    assert started.status_code == 302
    assert started["Location"] == reverse("admin:training_trainingrun_change", args=[run.pk])
    assert (run.export, run.method, run.publish) == (export, "dpo", "manual")
    assert run.snapshot_dir == str(snapshot.resolve())


def test_publish_action_reports_the_failing_server(project, tmp_path, settings, admin_client):
    settings.VLLM_URLS = ["http://127.0.0.1:9"]
    settings.VLLM_SEND_SEED = False
    version = candidate(project, tmp_path)
    response = admin_client.post(
        reverse("admin:training_modelversion_changelist"),
        {"action": "publish", "_selected_action": [version.pk]},
        follow=True,
    )
    assert "stays a candidate" in response.content.decode()
    assert live(project).number == 0


def test_train_command_queues_a_run(
    project, snapshot, tmp_path, django_capture_on_commit_callbacks
):
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    config = tmp_path / "config.json"
    config.write_text(json.dumps(FAST))
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "train",
            "--project",
            "tiny",
            "--method",
            "dpo",
            "--data",
            str(snapshot),
            "--config",
            str(config),
        )
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.QUEUED
    task = DBTaskResult.objects.get()
    assert task.queue_name == "training" and task.args_kwargs["args"] == [run.pk]


def test_a_run_trains_on_a_finished_dataset_export(project, snapshot):
    from labeling.models import DatasetExport

    export = DatasetExport.objects.create(
        project=project, format="preference", status="done", path=str(snapshot)
    )
    run = training_run_create(
        project=project, method="dpo", export=export, overrides=FAST, enqueue=False
    )
    assert run.export == export and run.snapshot_dir == str(snapshot.resolve())

    DatasetExport.objects.filter(pk=export.pk).update(status="running")
    export.refresh_from_db()
    with pytest.raises(ValidationError, match="not done"):
        training_run_create(project=project, method="dpo", export=export, enqueue=False)


def test_train_command_with_wait_trains_here_and_prints_progress(project, snapshot, models_dir):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "train",
        "--project",
        "tiny",
        "--method",
        "dpo",
        "--data",
        str(snapshot),
        "--wait",
        "--publish",
        "manual",
        "--config",
        str(_config_file(snapshot.parent)),
        stdout=out,
    )
    printed = out.getvalue()
    assert "step 3/3" in printed and "tiny-v1 stays a candidate" in printed
    assert TrainingRun.objects.get().status == TrainingRun.Status.SUCCEEDED


def _config_file(directory):
    path = directory / "config.json"
    path.write_text(json.dumps(FAST))
    return path


@pytest.mark.postgres
def test_a_diverged_loss_is_stored_without_nan(project, snapshot):
    """PostgreSQL's jsonb refuses NaN; a run whose loss diverged must still record progress."""
    from training.engine.progress import ProgressEvent
    from training.services.runs import _RunReporter

    run = create(project, snapshot)
    reporter = _RunReporter(run)
    nan = float("nan")
    reporter(ProgressEvent(kind="log", step=2, total_steps=3, loss=nan, metrics={"kl": nan}))
    reporter.flush(force=True)
    run.refresh_from_db()
    assert run.step == 2 and run.loss is None
    assert run.metrics["kl"] is None and run.history[-1]["loss"] is None
