"""Background jobs of the training app (run by `manage.py db_worker --queue-name training`)."""

from django_tasks import task

from training.models import TrainingRun
from training.services.runs import training_run_execute, training_runs_fail_stale


@task(queue_name="training")
def training_run_task(run_id: int) -> dict:
    """Train one queued run; first fail the runs whose worker died (no heartbeat)."""
    stale = training_runs_fail_stale()
    run = TrainingRun.objects.filter(pk=run_id).select_related("project", "base_version").first()
    if run is None:
        return {"run_id": run_id, "missing": True, "stale_failed": stale}
    run = training_run_execute(run=run)
    return {
        "run_id": run.pk,
        "status": run.status,
        "version": run.result_version.served_name if run.result_version else None,
        "stale_failed": stale,
    }
