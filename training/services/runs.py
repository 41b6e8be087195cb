"""Training runs: create (validate + enqueue), execute in the worker, cancel, fail stale ones.

The engine (training/engine) knows nothing of Django; this module turns a TrainingRun row into
an engine config with absolute paths, stores the engine's progress events on the row (at most
every HEARTBEAT_EVERY_S, which is also the heartbeat), and turns the published adapter into a
candidate ModelVersion. Then the run's publish policy (training.services.gate) decides whether
it goes live.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from labeling.models import Project
from training.engine import lineage
from training.engine.config import ConfigError
from training.models import ModelVersion, TrainingRun
from training.services.gate import training_run_gate_apply
from training.services.run_checks import (
    reward_version_override,
    run_request_check,
    snapshot_dir_of,
    training_config_build,
)

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 2.0
# Model loading and the held-out evaluation report nothing for a while; a worker silent for
# longer than this is taken for dead.
STALE_AFTER_S = 15 * 60
LOG_TAIL_LINES = 200
MAX_ERROR_CHARS = 4000
START_NOTES = {
    lineage.FROM_PARENT_ADAPTER: "starts from the adapter of {name} (continued, on {base})",
    lineage.FROM_PARENT_MERGED: "starts from {name}'s adapter merged into {base} (full weights)",
    lineage.FROM_BASE_MODEL: "starts from the base model {base} (init_from_parent is false)",
}


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities as None: JSON has no such numbers, and PostgreSQL's
    jsonb refuses the `NaN` that Python's json writes (a diverged loss, an empty split)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def adapters_root(project: Project) -> Path:
    return Path(settings.MODELS_DIR) / "adapters" / project.slug


def training_run_create(
    *,
    project: Project,
    method: str,
    export: Any = None,
    snapshot_dir: str | Path | None = None,
    base_version: ModelVersion | None = None,
    reward_version: ModelVersion | None = None,
    overrides: dict | None = None,
    publish: str = TrainingRun.Publish.MANUAL,
    created_by=None,
    enqueue: bool = True,
) -> TrainingRun:
    """Check the settings and the snapshot, store a queued run, and hand it to the worker.

    `export` is a DatasetExport (its snapshot directory is used); `snapshot_dir` names a
    snapshot directory directly. `publish` is what happens to the new version when the run
    succeeds (TrainingRun.Publish; the admin form, API and command default to if_better).
    `reward_version`, for an RLHF run, is the reward model (a reward run's version) its
    policy is optimised against; none: the run trains one on the export first.
    Raises ValidationError saying what to change.
    """
    overrides = reward_version_override(
        project=project, method=method, reward_version=reward_version, overrides=overrides
    )
    directory, base_version = run_request_check(
        project=project,
        method=method,
        publish=publish,
        directory=snapshot_dir_of(export, snapshot_dir),
        export=export,
        base_version=base_version,
        overrides=overrides,
    )
    run = TrainingRun(
        project=project,
        method=method,
        config=overrides,
        snapshot_dir=str(directory),
        base_version=base_version,
        publish=publish,
        created_by=created_by,
    )
    if export is not None:
        run.export = export
    run.full_clean()
    run.save()
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from training.tasks import training_run_task

    training_run_task.enqueue(run_id)


class _RunReporter:
    """The engine's progress callable: keeps every event, writes to the run every ~2 s.

    Each write is also the heartbeat, and reads back `cancel_requested`.
    """

    def __init__(self, run: TrainingRun, echo=None):
        self.run = run
        self.echo = echo
        self.history: list[dict] = list(run.history or [])
        self.log_lines: list[str] = (run.log or "").splitlines()
        self.cancelled = False
        self._last_write = 0.0
        self._latest: dict[str, Any] = {}

    def note(self, line: str) -> None:
        self.log_lines.append(line)
        if self.echo:
            self.echo(line)

    def __call__(self, event) -> Any:
        from training.engine.__main__ import format_event
        from training.engine.progress import Cancelled

        record = dataclasses.asdict(event)
        self.history.append(record)
        self._latest = record
        self.note(format_event(event))
        self.flush(force=event.kind in ("start", "end", "eval"))
        return Cancelled if self.cancelled else None

    def should_stop(self) -> bool:
        self.flush()
        return self.cancelled

    def flush(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < HEARTBEAT_EVERY_S:
            return
        self._last_write = now
        fields: dict[str, Any] = {
            "heartbeat_at": timezone.now(),
            "history": json_safe(self.history),
            "log": "\n".join(self.log_lines[-LOG_TAIL_LINES:]),
        }
        if self._latest:
            fields.update(
                step=self._latest["step"],
                total_steps=self._latest["total_steps"],
                metrics=json_safe({**self.run.metrics, **self._latest["metrics"]}),
            )
            if self._latest["loss"] is not None:
                fields["loss"] = json_safe(self._latest["loss"])
        TrainingRun.objects.filter(pk=self.run.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.run, name, value)
        self.cancelled = (
            self.cancelled
            or TrainingRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists()
        )


def training_run_execute(*, run: TrainingRun, echo=None) -> TrainingRun:
    """Train in this process (the worker): queued → running → succeeded/failed/cancelled.

    On success the adapter is published under MODELS_DIR/adapters/<slug>/v<k> and becomes a
    candidate ModelVersion, which the run's publish policy may then make live; on any failure
    nothing is left on disk and the live version is untouched. `echo(line)` also receives each
    progress line (the `train --wait` command). With TRAINING_LAUNCHER set, the training itself
    runs under that launcher in child processes (`_train`); the rest is the same.
    """
    from training.engine.launch import LaunchFailed
    from training.engine.progress import Cancelled

    if not _run_start(run):
        return run
    reporter = _RunReporter(run, echo=echo)
    staging = adapters_root(run.project) / f".run-{run.pk}"
    shutil.rmtree(staging, ignore_errors=True)  # a retried run's leftovers
    try:
        base = run.base_version
        config = training_config_build(
            method=run.method,
            base_version=base,
            overrides=run.config,
            output_dir=str(staging),
        )
        if base.is_adapter:
            start = START_NOTES[lineage.started_from(config)["init"]]
            reporter.note(start.format(name=base.served_name, base=config.base_model))
        reporter.note(f"training {run.method} on {run.snapshot_dir} from {config.base_model}")
        reporter.flush(force=True)
        result = _train(run, config, reporter)
        run = _run_succeed(run, reporter, staging, result)
    except Cancelled:
        shutil.rmtree(staging, ignore_errors=True)
        reporter.note("cancelled: stopped at a step boundary; nothing was published")
        return _run_finish(run, reporter, TrainingRun.Status.CANCELLED)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        logger.exception("training run %s failed", run.pk)
        reporter.log_lines.extend(traceback.format_exc().splitlines()[-30:])
        known = isinstance(exc, ConfigError | LaunchFailed)  # LaunchFailed: the child's error
        error = str(exc) if known else f"{type(exc).__name__}: {exc}"
        return _run_finish(run, reporter, TrainingRun.Status.FAILED, error=error)
    return training_run_gate_apply(run=run, reporter=reporter)


def _train(run: TrainingRun, config, reporter: _RunReporter):
    """The engine's `train`, here or under TRAINING_LAUNCHER (its files beside the staging
    directory, where `_run_leftovers_remove` finds them)."""
    from training.engine import train
    from training.engine.launch import LOG_FILE, LaunchFailed, log_tail, train_launched

    if not settings.TRAINING_LAUNCHER:
        return train(config, run.snapshot_dir, reporter, should_stop=reporter.should_stop)
    staging = Path(config.output_dir)
    work = staging.parent / f".{staging.name}.launch"
    reporter.note(f"launching: {settings.TRAINING_LAUNCHER}")
    try:
        return train_launched(
            config,
            run.snapshot_dir,
            reporter,
            should_stop=reporter.should_stop,
            launcher=settings.TRAINING_LAUNCHER,
            work_dir=work,
        )
    except (ConfigError, LaunchFailed):
        reporter.log_lines.extend(log_tail(work / LOG_FILE).splitlines())
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_start(run: TrainingRun) -> bool:
    now = timezone.now()
    started = TrainingRun.objects.filter(
        pk=run.pk, status=TrainingRun.Status.QUEUED, cancel_requested=False
    ).update(status=TrainingRun.Status.RUNNING, started_at=now, heartbeat_at=now)
    run.refresh_from_db()
    if not started and run.status == TrainingRun.Status.QUEUED:  # cancelled while queued
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.CANCELLED, finished_at=now
        )
        run.refresh_from_db()
    return bool(started)


def _run_finish(
    run: TrainingRun, reporter: _RunReporter, status: str, *, error: str = "", **fields
) -> TrainingRun:
    reporter.flush(force=True)
    # Only a run still marked running is finished here: one declared stale keeps its verdict.
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
        status=status, error=error[:MAX_ERROR_CHARS], finished_at=timezone.now(), **fields
    )
    run.refresh_from_db()
    return run


def _run_succeed(run: TrainingRun, reporter: _RunReporter, staging: Path, result) -> TrainingRun:
    from training.engine.publish import read_meta, write_meta

    metrics = json_safe(
        {k: v for k, v in result.metrics.items() if isinstance(v, int | float | str)}
    )
    with transaction.atomic():
        # Lock the project's row so two runs finishing at once get different numbers.
        Project.objects.select_for_update().filter(pk=run.project_id).first()
        if not TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).exists():
            shutil.rmtree(staging, ignore_errors=True)
            run.refresh_from_db()
            return run
        number = (run.project.model_versions.aggregate(n=Max("number"))["n"] or 0) + 1
        served_name = f"{run.project.slug}-v{number}"
        target = adapters_root(run.project) / f"v{number}"
        meta = read_meta(staging)
        write_meta(staging, {**meta, "served_name": served_name, "training_run": run.pk})
        if target.exists():
            raise FileExistsError(f"{target} already exists; not overwriting it")
        os.rename(staging, target)
        try:
            version = ModelVersion.objects.create(
                project=run.project,
                number=number,
                parent=run.base_version,
                base_model_path=str(Path(run.base_version.base_model_path).resolve()),
                adapter_path=str(target.resolve()),
                served_name=served_name,
                status=ModelVersion.Status.CANDIDATE,
                metrics=metrics,
            )
        except Exception:
            shutil.rmtree(target, ignore_errors=True)
            raise
        reporter.note(f"published {served_name} (candidate) at {target}")
        return _run_finish(
            run,
            reporter,
            TrainingRun.Status.SUCCEEDED,
            result_version=version,
            metrics={**run.metrics, **metrics},
        )


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops at its next step boundary."""
    now = timezone.now()
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.CANCELLED, cancel_requested=True, finished_at=now
    )
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
        cancel_requested=True
    )
    run.refresh_from_db()
    return run


def training_runs_fail_stale(*, max_silence_s: float = STALE_AFTER_S) -> int:
    """Mark running runs whose worker has been silent too long as failed; return how many."""
    cutoff = timezone.now() - timedelta(seconds=max_silence_s)
    stale = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    failed = 0
    for run in stale.select_related("project"):
        failed += TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
            status=TrainingRun.Status.FAILED,
            error=(
                f"worker stopped responding (no heartbeat for over {max_silence_s:.0f} s): it "
                "was killed or its machine went down; nothing was published, start the run again"
            ),
            finished_at=timezone.now(),
        )
        _run_leftovers_remove(run)
    return failed


def _run_leftovers_remove(run: TrainingRun) -> None:
    """What a killed worker (SIGKILL runs no cleanup) leaves of its run: the staging directory,
    the engine's scratch and publishing directories beside it (`..run-<pk>.work-*`, `.tmp-*`),
    and an adapter renamed into place as v<k> whose version was never committed. Left there,
    that v<k> would fail every later run on "already exists"; an older v<k> of another database
    (same run id, made before this run started) is not touched."""
    from training.engine.publish import read_meta

    root = adapters_root(run.project)
    staging = root / f".run-{run.pk}"
    for path in [staging, *root.glob(f".{staging.name}.*")]:
        shutil.rmtree(path, ignore_errors=True)
    recorded = set(ModelVersion.objects.values_list("adapter_path", flat=True))
    started = run.started_at.timestamp() if run.started_at else math.inf
    for path in root.glob("v*"):
        if str(path.resolve()) in recorded or read_meta(path).get("training_run") != run.pk:
            continue
        if path.stat().st_mtime >= started:
            shutil.rmtree(path, ignore_errors=True)
