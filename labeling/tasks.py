"""Background jobs of the labeling app (run by `manage.py db_worker`)."""

from django_tasks import task

from labeling.models import Project
from labeling.services import generation, generation_schedule


@task(queue_name="generation")
def completions_refill(project_id: int) -> dict:
    """Top up one project's buffer of prompts with ready completions."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return {"project_id": project_id, "missing": True}
    return generation.completions_refill(project=project).as_dict()


@task(queue_name="generation")
def generation_tick() -> dict:
    """Refill what is below target, then enqueue the next tick (see generation_schedule)."""
    delay_s = generation_schedule.TICK_AFTER_ERROR_S
    try:
        summary = generation_schedule.generation_tick_run()
        delay_s = summary["next_tick_s"]
        return summary
    finally:
        # Even after an unexpected error, so one bad tick does not stop pre-generation.
        generation_schedule.generation_tick_schedule(delay_s=delay_s)
