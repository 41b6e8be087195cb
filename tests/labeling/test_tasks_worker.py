"""The background-job wiring: a task enqueued through the Django task API is picked up and run
by the real database worker (`db_worker`), and its result is stored."""

import json

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from labeling.models import Prompt
from labeling.services.projects import project_create
from labeling.tasks import prompts_import_task

# The worker claims tasks with row locks, which SQLite does not have: run it on PostgreSQL too.
pytestmark = pytest.mark.postgres


@pytest.mark.django_db(transaction=True)
def test_the_db_worker_runs_an_enqueued_import(tmp_path):
    project = project_create(name="Worker", slug="worker")
    path = tmp_path / "prompts.jsonl"
    rows = [{"instruction": "작업자가 가져온 지시문", "input": ""}, {"instruction": "Second one"}]
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n")

    result = prompts_import_task.enqueue(project.pk, str(path))
    assert Prompt.objects.filter(project=project).count() == 0  # nothing runs at enqueue time

    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*")

    stored = DBTaskResult.objects.get(id=result.id)
    assert stored.status == "SUCCESSFUL"
    result.refresh()
    assert result.return_value["ok"] is True
    assert "Imported 2 prompts" in result.return_value["message"]
    assert set(Prompt.objects.filter(project=project).values_list("instruction", flat=True)) == {
        "작업자가 가져온 지시문",
        "Second one",
    }


@pytest.mark.django_db(transaction=True)
def test_a_rejected_file_is_reported_by_the_task_not_crashed(tmp_path):
    project = project_create(name="Worker", slug="worker")
    path = tmp_path / "bad.jsonl"
    path.write_text('{"instruction": "fine"}\n{"instruction": 42}\n')

    result = prompts_import_task.enqueue(project.pk, str(path))
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*")

    result.refresh()
    assert result.return_value["ok"] is False
    assert "line 2" in result.return_value["message"]
    assert "instruction" in result.return_value["message"]
    assert Prompt.objects.filter(project=project).count() == 0
