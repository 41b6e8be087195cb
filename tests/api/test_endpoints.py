"""What annotators and admins get from the API, through the same services as the pages."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from labeling.models import DatasetExport
from labeling.services.exports import dataset_export_create
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def test_an_annotator_takes_judges_and_skips_tasks(mine):
    client = client_for(mine.annotator)
    task = client.get(reverse("api:task_next", args=["mine"])).json()["task"]
    assert task["token"] == str(mine.task.token) and len(task["completions"]) == 2
    ranking = [[c["id"]] for c in task["completions"]]
    url = reverse("api:judgement_submit", args=[task["token"]])
    answer = client.post(url, {"ranking": ranking, "time_spent_ms": 1500}, format="json")
    assert answer.status_code == 201 and answer.json()["outcome"] == "ranked"
    history = client.get(reverse("api:my_judgements"), {"project": "mine"}).json()
    assert [j["id"] for j in history["results"]] == [answer.json()["id"]]
    again = client.post(
        reverse("api:demonstration_submit", args=[task["token"]]),
        {"output": "x", "time_spent_ms": 1},
        format="json",
    )
    assert again.status_code == 409  # submitted already: refused with the reason
    nxt = client.get(reverse("api:task_next", args=["mine"])).json()["task"]
    assert nxt["token"] != task["token"]
    skip = client.post(reverse("api:task_skip", args=[nxt["token"]]), {"reason": "unclear"})
    assert skip.status_code == 204
    stats = client_for(mine.admin).get(reverse("api:annotator_stats", args=["mine"])).json()
    row = stats["results"][0]
    assert (row["username"], row["judgements_total"], row["time_spent_ms"]) == (
        "mine-annotator",
        1,
        1500,
    )


def test_an_admin_imports_prompts_and_sees_the_errors_of_a_bad_file(mine, settings):
    client = client_for(mine.admin)
    url = reverse("api:prompt_import", args=["mine"])
    good = SimpleUploadedFile("p.jsonl", b'{"instruction": "Say hi"}\n{"instruction": "Bye"}\n')
    response = client.post(url, {"file": good}, format="multipart")
    assert response.status_code == 201 and response.json()["imported"] == 2
    bad = SimpleUploadedFile("bad.jsonl", b'{"instruction": ""}\n')
    response = client.post(url, {"file": bad}, format="multipart")
    assert response.status_code == 400 and response.json()["errors"]
    settings.PROMPT_IMPORT_MAX_BYTES = 10
    big = SimpleUploadedFile("big.jsonl", b'{"instruction": "long enough"}\n')
    response = client.post(url, {"file": big}, format="multipart")
    assert response.status_code == 400 and "larger" in str(response.json()["file"])


def test_an_admin_exports_trains_cancels_and_switches_versions(mine):
    client = client_for(mine.admin)
    created = client.post(
        reverse("api:exports", args=["mine"]), {"format": "alpaca"}, format="json"
    )
    assert created.status_code == 201 and created.json()["status"] == "pending"
    status = client.get(reverse("api:export", args=[mine.export.pk])).json()
    assert status["files"] == ["manifest.json"]
    file = client.get(reverse("api:export_file", args=[mine.export.pk, "manifest.json"]))
    assert file.status_code == 200
    assert client.get(reverse("api:export_file", args=[mine.export.pk, "x.py"])).status_code == 404
    cancel = client.post(reverse("api:training_run_cancel", args=[mine.run.pk]))
    assert cancel.json()["status"] == "cancelled"
    bad_run = client.post(
        reverse("api:training_runs", args=["mine"]), {"method": "sft", "export": 0}, format="json"
    )
    assert bad_run.status_code == 400
    from training.models import ModelVersion

    v1 = ModelVersion.objects.create(
        project=mine.project, number=1, base_model_path="/m", served_name="mine-v1"
    )
    published = client.post(reverse("api:model_version_publish", args=[v1.pk]))
    assert published.json()["status"] == "live"
    back = client.post(reverse("api:model_version_rollback", args=[mine.version.pk]))
    assert back.json()["status"] == "live"
    refused = client.post(reverse("api:model_version_rollback", args=[v1.pk]))
    assert refused.status_code == 409
    patch = client.patch(reverse("api:project", args=["mine"]), {"task_kinds": []}, format="json")
    assert patch.status_code == 400


def test_an_export_whose_worker_died_shows_failed_and_can_be_started_again(mine):
    stale = dataset_export_create(
        project=mine.project, format="kto", rule="majority", seed=3, split=(0.8, 0.1, 0.1)
    )
    long_ago = timezone.now() - timedelta(hours=1)
    DatasetExport.objects.filter(pk=stale.pk).update(status="running", started_at=long_ago)
    client = client_for(mine.admin)

    listed = client.get(reverse("api:exports", args=["mine"]), {"status": "failed"}).json()
    followed = client.get(reverse("api:export", args=[stale.pk])).json()
    again = client.post(reverse("api:export_again", args=[stale.pk]))
    refused = client.post(reverse("api:export_again", args=[mine.export.pk]))

    assert [export["id"] for export in listed["results"]] == [stale.pk]
    assert followed["status"] == "failed" and "start the export again" in followed["error"]
    assert again.status_code == 201
    body = again.json()
    assert body["id"] != stale.pk and body["status"] == "pending"
    same = ("format", "rule", "seed", "split_train", "split_validation", "filters", "options")
    assert {key: body[key] for key in same} == {key: followed[key] for key in same}
    assert refused.status_code == 409 and "only a failed export" in refused.json()["detail"]


def test_anonymous_gets_401_and_the_token_endpoint_is_throttled(mine):
    from rest_framework.test import APIClient

    client = APIClient()
    assert client.get(reverse("api:projects")).status_code == 401
    url = reverse("api:token")
    ok = client.post(url, {"username": "mine-admin", "password": "correct horse battery staple"})
    assert ok.status_code == 200 and ok.json()["token"]
    codes = [
        client.post(url, {"username": "mine-admin", "password": "no"}).status_code
        for _ in range(12)
    ]
    assert codes[0] == 400 and codes[-1] == 429


def test_a_refused_submission_is_explained_in_the_language_the_client_asks_for(mine):
    client = client_for(mine.annotator)
    token = str(mine.task.token)
    first = reverse("api:judgement_submit", args=[token])
    ranking = [[pk] for pk in mine.task.completion_ids]
    client.post(first, {"ranking": ranking, "time_spent_ms": 10}, format="json")
    again = reverse("api:demonstration_submit", args=[token])
    payload = {"output": "x", "time_spent_ms": 1}
    korean = client.post(again, payload, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert korean.status_code == 409
    assert korean.json()["detail"] == "이미 제출한 작업입니다."
    english = client.post(again, payload, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["detail"] == "This task was already submitted."
