"""Every refusal reaches an API client as {"detail", "code"} with its status, and the schema
lists the codes a client can branch on."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.refusals import Refusal, RefusalCode
from labeling.services.exports import DatasetExportRefused
from labeling.services.prompt_import import PromptImportRejected
from labeling.services.queue import SubmissionRefused
from tests.api.conftest import client_for, world_build
from training.models import ModelVersion
from training.services.versions import PublishError

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db, tmp_path, settings):
    settings.EXPORTS_DIR = tmp_path / "exports"
    return world_build(tmp_path, "mine")


def _refused(response, status: int, code: RefusalCode) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert body["code"] == code.value and body["detail"]
    return body


def _version(world, tmp_path, number: int = 1) -> ModelVersion:
    adapter = tmp_path / f"v{number}"
    adapter.mkdir()
    return ModelVersion.objects.create(
        project=world.project,
        number=number,
        parent=world.version,
        base_model_path="/models/base",
        adapter_path=str(adapter),
        served_name=f"mine-v{number}",
    )


def test_every_refusal_class_is_one_with_a_code():
    for refusal in (SubmissionRefused, DatasetExportRefused, PromptImportRejected, PublishError):
        assert issubclass(refusal, Refusal)
    # SubmissionRefused names its code at each raise (one class, several reasons).
    for refusal in (DatasetExportRefused, PromptImportRejected, PublishError):
        assert refusal.default_code in RefusalCode.values


def test_a_task_submitted_twice(world):
    client = client_for(world.annotator)
    token = str(world.task.token)
    ranking = [[pk] for pk in world.task.completion_ids]
    first = client.post(
        reverse("api:judgement_submit", args=[token]),
        {"ranking": ranking, "time_spent_ms": 10},
        format="json",
    )
    assert first.status_code == 201
    again = client.post(
        reverse("api:demonstration_submit", args=[token]),
        {"output": "x", "time_spent_ms": 1},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ko",
    )
    body = _refused(again, 409, RefusalCode.ALREADY_SUBMITTED)
    assert body == {"detail": "이미 제출한 작업입니다.", "code": "already_submitted"}


def test_rolling_back_to_a_newer_version(world, tmp_path):
    newer = _version(world, tmp_path)
    response = client_for(world.admin).post(reverse("api:model_version_rollback", args=[newer.pk]))
    body = _refused(response, 409, RefusalCode.ROLLBACK_NOT_ALLOWED)
    assert body["detail"].startswith("mine-v1 is newer than the live ")


def test_publishing_when_a_server_cannot_load_the_adapter(world, tmp_path, settings):
    settings.VLLM_URLS = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    settings.VLLM_SEND_SEED = False
    candidate = _version(world, tmp_path)
    response = client_for(world.admin).post(
        reverse("api:model_version_publish", args=[candidate.pk])
    )
    body = _refused(response, 409, RefusalCode.PUBLISH_FAILED)
    assert "stays a candidate" in body["detail"]


def test_starting_an_export_again_that_did_not_fail(world):
    response = client_for(world.admin).post(reverse("api:export_again", args=[world.export.pk]))
    body = _refused(response, 409, RefusalCode.EXPORT_NOT_ALLOWED)
    assert "only a failed export" in body["detail"]


def test_a_file_with_invalid_rows_keeps_its_rows_errors(world):
    bad = SimpleUploadedFile("bad.jsonl", b'{"instruction": "fine"}\n{"instruction": ""}\n')
    response = client_for(world.admin).post(
        reverse("api:prompt_import", args=["mine"]), {"file": bad}, format="multipart"
    )
    body = _refused(response, 400, RefusalCode.IMPORT_INVALID_ROWS)
    assert body["detail"] == "Nothing imported: 1 invalid row in bad.jsonl."
    assert body["invalid_rows"] == 1 and len(body["errors"]) == 1
    assert world.project.prompts.filter(instruction="fine").count() == 0


def test_the_schema_documents_the_codes_of_each_refusing_endpoint(world, client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    assert components["RefusalCodeEnum"]["enum"] == list(RefusalCode.values)
    code = components["RefusalOut"]["properties"]["code"]
    assert code["allOf"] == [{"$ref": "#/components/schemas/RefusalCodeEnum"}]
    assert set(components["RefusalOut"]["required"]) == {"detail", "code"}
    refusing = {
        "judgement_submit",
        "demonstration_submit",
        "task_skip",
        "export_again",
        "model_version_publish",
        "model_version_rollback",
    }
    documented = set()
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("409")
            if answer is None:
                continue
            ref = answer["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/RefusalOut", path
            documented.add(_endpoint(path))
    assert refusing <= documented


def _endpoint(path: str) -> str:
    names = {
        "judgement": "judgement_submit",
        "demonstration": "demonstration_submit",
        "skip": "task_skip",
        "again": "export_again",
        "publish": "model_version_publish",
        "rollback": "model_version_rollback",
    }
    last = path.rstrip("/").split("/")[-1]
    return names.get(last, path)
