"""Background jobs of the labeling app (run by `manage.py db_worker`)."""

import contextlib
import logging

from django.utils import translation
from django_tasks import task

from labeling.models import Project
from labeling.services import generation, generation_schedule

logger = logging.getLogger(__name__)


@task(queue_name="generation")
def completions_refill(project_id: int) -> dict:
    """Top up one project's buffer of prompts with ready completions."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return {"project_id": project_id, "missing": True}
    return generation.completions_refill(project=project).as_dict()


@task(queue_name="generation")
def generation_tick() -> dict:
    """Refill what is below target, then enqueue the next tick (see generation_schedule).

    The tick is also the worker's periodic check for exports whose worker died: the exports
    run on another queue, so a killed export worker is noticed here; and where new votes
    change how uncertain a prompt is (labeling.services.uncertainty).
    """
    delay_s = generation_schedule.TICK_AFTER_ERROR_S
    try:
        stale_exports = _dataset_exports_fail_stale()
        votes = _votes_refresh()
        summary = generation_schedule.generation_tick_run()
        delay_s = summary["next_tick_s"]
        return {**summary, "stale_exports_failed": stale_exports, "votes_refreshed": votes}
    finally:
        # Even after an unexpected error, so one bad tick does not stop pre-generation.
        generation_schedule.generation_tick_schedule(delay_s=delay_s)


def _dataset_exports_fail_stale() -> int:
    """The stale-export check without letting a failure of it stop pre-generation."""
    from labeling.services.exports import dataset_exports_fail_stale

    try:
        return dataset_exports_fail_stale()
    except Exception:
        logger.exception("Failing stale dataset exports went wrong")
        return 0


def _votes_refresh() -> int:
    """Votes into uncertainty, without letting a failure of it stop pre-generation."""
    from labeling.services.uncertainty import uncertainty_votes_refresh_all

    try:
        return uncertainty_votes_refresh_all()
    except Exception:
        logger.exception("Counting votes into prompt uncertainty went wrong")
        return 0


@task()
def prompts_import_task(
    project_id: int,
    path: str,
    format: str | None = None,
    skip_invalid: bool = False,
    language: str | None = None,
) -> dict:
    """Import a prompt file in the worker (for uploads too large to import within a request).

    A rejected file is a result, not a crash: the summary and the bad rows are returned, in
    `language` (that of the request that enqueued it) when given.
    """
    from labeling.imports.formats import ImportFileError
    from labeling.services.prompt_import import PromptImportRejected, prompts_import

    project = Project.objects.get(pk=project_id)
    with translation.override(language) if language else contextlib.nullcontext():
        try:
            report = prompts_import(
                project=project, path=path, format=format, skip_invalid=skip_invalid
            )
        except PromptImportRejected as rejected:
            return {"ok": False, "message": str(rejected)}
        except ImportFileError as error:
            return {"ok": False, "message": str(error)}
        return {"ok": True, "message": report.summary()}


@task()
def dataset_export_task(export_id: int) -> dict:
    """Write one dataset export's snapshot (queued by the admin's "Export dataset…"); first
    fail the exports whose worker died."""
    from labeling.models import DatasetExport
    from labeling.services.exports import dataset_export_run, dataset_exports_fail_stale

    stale = dataset_exports_fail_stale()
    export = DatasetExport.objects.select_related("project").filter(pk=export_id).first()
    if export is None:
        return {"export_id": export_id, "missing": True, "stale_failed": stale}
    export = dataset_export_run(export=export)
    return {
        "export_id": export_id,
        "status": export.status,
        "rows": export.rows_total,
        "stale_failed": stale,
    }


@task()
def drafting_job_task(job_id: int) -> dict:
    """Draft instructions or answers for one project (queued by the admin's "Draft…"); a
    drafting server that does not answer leaves the job waiting, enqueued again later."""
    from labeling.models import DraftingJob
    from labeling.services.drafting import drafting_job_run

    job = DraftingJob.objects.select_related("project").filter(pk=job_id).first()
    if job is None:
        return {"job_id": job_id, "missing": True}
    job = drafting_job_run(job=job)
    return {"job_id": job_id, "status": job.status, "drafted": job.drafted, "dropped": job.dropped}
