"""Dataset exports: create the request (check it), run it (stream the snapshot), enqueue it,
fail the ones whose worker died, and start a failed one again.

A snapshot is immutable: it is written into a hidden directory that is renamed into place
only when every file and the manifest are complete (labeling.exports.snapshot). A run that
fails leaves no files and marks the export failed with the error. A worker killed mid-export
runs no cleanup: its export stays running until `dataset_exports_fail_stale` finds it silent
for STALE_AFTER_S, marks it failed and removes what it left on disk.
"""

import errno
import logging
import shutil
import subprocess
import uuid
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.refusals import Refusal, RefusalCode
from labeling.exports.formats import annotator_pseudonym, split_unit
from labeling.exports.pipeline import ExportSpec, export_stream
from labeling.exports.snapshot import (
    PARTIAL_MARK,
    SnapshotWriter,
    atomic_directory,
    partial_directories,
    split_checks,
)
from labeling.exports.split import SPLITS
from labeling.models import DatasetExport, Project
from labeling.selectors.exports import conversational_by_default
from labeling.selectors.quality import agreement_alphas_for
from labeling.services.export_checks import filters_clean, options_clean, split_clean

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
# The formats whose rows are messages or plain text, as the `conversational` option says.
CONVERSATIONAL_FORMATS = ("preference", "kto")
# An export of 1M preference pairs writes its snapshot in about 20 s. One that started longer
# ago than this and has written nothing to its snapshot for as long has lost its worker.
STALE_AFTER_S = 30 * 60
STALE_ERROR = (
    "the export worker stopped before finishing (running for over {minutes} minutes); "
    "start the export again"
)


class DatasetExportRefused(Refusal):
    """The export cannot do what was asked in the state it is in (the API answers 409)."""

    default_code = RefusalCode.EXPORT_NOT_ALLOWED


@transaction.atomic
def dataset_export_create(
    *,
    project: Project,
    format: str,
    created_by: AbstractBaseUser | None = None,
    rule: str = DatasetExport.Rule.ALL,
    split: tuple[float, float, float] | None = None,
    held_out: bool = True,
    seed: int = 0,
    parquet: bool = False,
    filters: dict | None = None,
    options: dict | None = None,
) -> DatasetExport:
    """Store an export request (status pending); `dataset_export_run` does the work.

    split: train, validation, test shares (default DEFAULT_SPLIT); held_out=False: no held-out
    rows (1,0,0) for a first tiny round, and a split holding rows out is refused, not overridden.
    filters: date_from/date_to (ISO days, inclusive), annotators (user ids), model_versions
    (version numbers), review_status (demonstration statuses), min_agreement (0-1).
    options: require_accepted, kto_from_rankings, conversational (preference and KTO; by
    default as the served model takes prompts: selectors.exports.conversational_by_default),
    near_duplicates (default true); preference only: min_chosen_helpful, min_chosen_harmless
    (1-5: pairs whose chosen answer's mean score is lower are dropped; see
    labeling.exports.flags). Raises ValidationError keyed by field.
    """
    options = options_clean(options or {}, format=format)
    if format in CONVERSATIONAL_FORMATS and "conversational" not in options:
        options["conversational"] = conversational_by_default()
    export = DatasetExport(
        project=project,
        format=format,
        rule=rule,
        filters=filters_clean(filters or {}, project=project),
        options=options,
        seed=seed,
        parquet=parquet,
        created_by=created_by,
    )
    export.split_train, export.split_validation, export.split_test = split_clean(
        split, held_out=held_out
    )
    export.full_clean()
    export.save()
    return export


def dataset_export_enqueue(*, export: DatasetExport) -> None:
    """Hand the export to the background worker once the current transaction commits."""
    from labeling.tasks import dataset_export_task

    transaction.on_commit(lambda: dataset_export_task.enqueue(export.pk))


def dataset_export_run(*, export: DatasetExport) -> DatasetExport:
    """Write the snapshot of a pending export; returns it done, or failed with the error.

    Only one run takes a given export (the status moves from pending to running atomically);
    any other call returns the export as it stands.
    """
    started_at = timezone.now()
    claimed = DatasetExport.objects.filter(
        pk=export.pk, status=DatasetExport.Status.PENDING
    ).update(status=DatasetExport.Status.RUNNING, started_at=started_at)
    export.refresh_from_db()
    if not claimed:
        return export
    try:
        manifest = _snapshot_write(export=export)
    except BaseException as exc:
        logger.exception("Export %s failed", export.pk)
        _export_finish(export, status=DatasetExport.Status.FAILED, error=_failure_message(exc))
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: stop as asked
            raise
        return export
    rows = manifest["rows"]
    finished = _export_finish(
        export,
        status=DatasetExport.Status.DONE,
        manifest=manifest,
        path=str(snapshot_directory(export)),
        content_hash=manifest["content_sha256"],
        code_version=manifest["code_version"],
        rows_train=rows["train"],
        rows_validation=rows["validation"],
        rows_test=rows["test"],
    )
    if not finished:  # declared stale while it ran: it stays failed, with no files
        _snapshot_remove(export)
    return export


def dataset_exports_fail_stale(*, max_age_s: float = STALE_AFTER_S) -> int:
    """Mark running exports whose worker is gone as failed and remove their files; return
    how many. Gone: started over `max_age_s` ago and nothing written to the snapshot for as
    long, so a long export that is still writing goes on. Also removes the temporary
    directories of exports no longer running (failed, or deleted with their project)."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=max_age_s)
    error = STALE_ERROR.format(minutes=f"{max_age_s / 60:g}")
    failed = 0
    running = DatasetExport.objects.filter(
        status=DatasetExport.Status.RUNNING, started_at__lt=cutoff
    )
    for export in running.select_related("project"):
        written_at = _snapshot_written_at(export)
        if written_at is not None and written_at >= cutoff.timestamp():
            continue
        # Only an export still running: one that finished meanwhile keeps its result.
        if DatasetExport.objects.filter(pk=export.pk, status=DatasetExport.Status.RUNNING).update(
            status=DatasetExport.Status.FAILED, error=error, finished_at=now
        ):
            failed += 1
            _snapshot_remove(export)
    _partial_directories_sweep()
    return failed


@transaction.atomic
def dataset_export_again(
    *, export: DatasetExport, created_by: AbstractBaseUser | None
) -> DatasetExport:
    """A new pending export with a failed one's settings, handed to the worker; the failed
    one stays as the record of what happened. The settings are checked again as for a new
    request (a model version the filters name may be gone: ValidationError)."""
    if export.status != DatasetExport.Status.FAILED:
        message = _("Export #%(export)s is %(status)s: only a failed export is started again.")
        raise DatasetExportRefused(message % {"export": export.pk, "status": export.status})
    again = dataset_export_create(
        project=export.project,
        format=export.format,
        created_by=created_by,
        rule=export.rule,
        split=export.split,
        seed=export.seed,
        parquet=export.parquet,
        filters=export.filters,
        options=export.options,
    )
    dataset_export_enqueue(export=again)
    return again


def dataset_export_copy(*, export: DatasetExport, destination: Path) -> Path:
    """Copy a finished snapshot's files into `destination` (new or empty)."""
    if export.directory is None:
        no_snapshot = gettext("Export #%(number)s has no snapshot (%(status)s).")
        raise ValidationError(no_snapshot % {"number": export.pk, "status": export.status})
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        not_empty = gettext("%(directory)s is not empty; choose a new or empty directory.")
        raise ValidationError(not_empty % {"directory": destination})
    destination.mkdir(parents=True, exist_ok=True)
    for path in sorted(export.directory.iterdir()):
        shutil.copy2(path, destination / path.name)
    return destination


def snapshot_directory(export: DatasetExport) -> Path:
    """Named by the export's UUID, not its id: ids start again at 1 after a database reset,
    and a snapshot directory, once written, is never written again."""
    return Path(settings.EXPORTS_DIR) / export.project.slug / str(export.uid)


def _snapshot_write(*, export: DatasetExport) -> dict:
    spec = ExportSpec(
        project=export.project,
        format=export.format,
        rule=export.rule,
        filters=export.filters,
        options=export.options,
        ratios=export.split,
        seed=export.seed,
        as_of=export.started_at,
    )
    with (
        atomic_directory(snapshot_directory(export)) as directory,
        SnapshotWriter(directory, parquet=export.parquet) as writer,
    ):
        tally = export_stream(spec=spec, writer=writer, pseudonym_key=settings.SECRET_KEY)
        checked = split_checks(
            writer.rows_per_split(),
            ratios=export.split,
            moved_to_train=tally.moved_to_train,
            unit=split_unit(export.format),
        )
        return writer.finish(_manifest(export, spec, tally.manifest_parts() | checked))


def _manifest(export: DatasetExport, spec: ExportSpec, figures: dict) -> dict:
    filters = dict(export.filters)
    if filters.get("annotators"):  # the manifest travels: it names no one
        filters["annotators"] = [
            annotator_pseudonym(pk, key=settings.SECRET_KEY) for pk in filters["annotators"]
        ]
    return {
        "manifest_version": MANIFEST_VERSION,
        "export_id": export.pk,
        "project": export.project.slug,
        "format": export.format,
        "file_format": "parquet" if export.parquet else "jsonl",
        "conversational": spec.conversational if export.format in CONVERSATIONAL_FORMATS else None,
        "conversation_rendering": _conversation_rendering(export.format, spec),
        "rule": export.rule,
        "filters": filters,
        "options": export.options,
        "split": {
            "by": split_unit(export.format),
            "seed": export.seed,
            "ratios": dict(zip(SPLITS, export.split, strict=True)),
        },
        **figures,
        "krippendorff_alpha": agreement_alphas_for(export.project),
        "code_version": code_version(),
        "as_of": spec.as_of.isoformat(),
        "created_at": export.created_at.isoformat(),
        "finished_at": timezone.now().isoformat(),
    }


def _conversation_rendering(format: str, spec: ExportSpec) -> str:
    """How the rows hold a conversation's earlier turns (prompts.conversations counts them)."""
    if format == "messages" or (format in ("preference", "kto") and spec.conversational):
        return "messages: every turn, in order, before the user turn"
    if format in ("alpaca", "dolly", "text", "preference", "kto"):
        return (
            "flattened into the instruction: one 'System: ' / 'User: ' / 'Assistant: ' "
            "paragraph per earlier turn, then 'User: ' and the instruction"
        )
    return "none"


def _failure_message(exc: BaseException) -> str:
    """What the admin reads on the failed export: a full disk says so and where, since "Errno
    28" is not advice; anything else as raised."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return (
            f"the disk is full: no space left on the device of {settings.EXPORTS_DIR}; "
            "nothing was kept. Free some space, then start the export again"
        )
    return f"{type(exc).__name__}: {exc}"


def _export_finish(export: DatasetExport, *, status: str, **fields) -> bool:
    """Record a run's outcome; False if the export was declared stale meanwhile (it keeps
    that verdict)."""
    finished = DatasetExport.objects.filter(
        pk=export.pk, status=DatasetExport.Status.RUNNING
    ).update(status=status, finished_at=timezone.now(), **fields)
    export.refresh_from_db()
    return bool(finished)


def _snapshot_written_at(export: DatasetExport) -> float | None:
    """When anything of the export's snapshot (temporary or final) was last written."""
    final = snapshot_directory(export)
    times: list[float] = []
    for directory in [final, *partial_directories(final)]:
        try:
            times += [path.stat().st_mtime for path in (directory, *directory.iterdir())]
        except OSError:  # never made, or removed meanwhile
            continue
    return max(times, default=None)


def _snapshot_remove(export: DatasetExport) -> None:
    """Everything a failed export left: its temporary directories, and its final one when the
    worker died between renaming it into place and recording the export done."""
    final = snapshot_directory(export)
    for directory in [*partial_directories(final), final]:
        shutil.rmtree(directory, ignore_errors=True)


def _partial_directories_sweep() -> None:
    """Remove temporary snapshot directories whose export is not running any more. A directory
    seen here of an export that then finishes was renamed away: removing it does nothing."""
    found: dict[uuid.UUID, list[Path]] = {}
    for path in Path(settings.EXPORTS_DIR).glob(f"*/.*{PARTIAL_MARK}*"):
        try:
            uid = uuid.UUID(path.name[1:].partition(PARTIAL_MARK)[0])
        except ValueError:  # not a snapshot's temporary directory
            continue
        found.setdefault(uid, []).append(path)
    if not found:
        return
    active = (DatasetExport.Status.PENDING, DatasetExport.Status.RUNNING)
    alive = set(
        DatasetExport.objects.filter(uid__in=found, status__in=active).values_list("uid", flat=True)
    )
    for uid, paths in found.items():
        if uid not in alive:
            for path in paths:
                shutil.rmtree(path, ignore_errors=True)


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit the code runs from, or "unknown" outside a checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"
