"""The prompt import's report in the reader's language: an admin who reads Korean reads the
rows' errors, the summary and the refusal in Korean, on the admin's "Import prompts…" page,
from the API and from the background import job; in English the report is what it was."""

import html
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from labeling.models import Prompt, Role
from labeling.services.projects import membership_grant, project_create
from labeling.tasks import prompts_import_task
from tests.api.conftest import client_for
from tests.factories import ProjectFactory, UserFactory

KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
IMPORT = "admin:labeling_prompt_import"

# One valid row, then a row for each kind of problem a person meets most.
BAD = (
    b'{"instruction": "Fine"}\n'
    b'{"instruction": ""}\n'
    b'{"input": "no instruction"}\n'
    b'{"instruction": 42}\n'
    b'{"instruction": "Both", "input": "a", "context": "b"}\n'
    b"[1]\n"
    b"not json\n"
)
ENGLISH_SUMMARY = "Nothing imported: 6 invalid rows in bad.jsonl."
ENGLISH_LINES = [
    "line 2: instruction: empty",
    "line 3: instruction: missing",
    "line 4: instruction: expected text, got a number",
    "line 5: context: given together with 'input'; use one of them",
    "line 6: expected a JSON object {...}, got a list",
    "line 7: invalid JSON: Expecting value (column 1)",
]
KOREAN_SUMMARY = "아무것도 가져오지 않았습니다: bad.jsonl에 잘못된 행 6개가 있습니다."
KOREAN_LINES = [
    "2번째 줄: instruction: 비어 있음",
    "3번째 줄: instruction: 없음",
    "4번째 줄: instruction: 텍스트여야 하는데 숫자입니다",
    "5번째 줄: context: 'input' 필드와 함께 주어졌습니다. 둘 중 하나만 쓰세요",
    "6번째 줄: JSON 객체({...})여야 하는데 목록입니다",
    "7번째 줄: 잘못된 JSON: Expecting value (1번째 글자)",  # the decoder's own words stay
]
# Words of the English report that no Korean line may keep.
ENGLISH_WORDS = ["line 2", "missing", "expected text", "Nothing imported", "invalid rows"]


@pytest.fixture
def project(db):
    return ProjectFactory(slug="mine")


@pytest.fixture
def admin_user(project):
    user = UserFactory(username="boss")
    membership_grant(project=project, user=user, role=Role.ADMIN)
    return user


def _upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("bad.jsonl", BAD)


def _admin_import(client, project, language, **fields) -> str:
    data = {"project": project.pk, "file": _upload(), "format": "", **fields}
    response = client.post(reverse(IMPORT), data, **language)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_a_korean_admin_reads_the_rejected_files_report_in_korean(client, project, admin_user):
    client.force_login(admin_user)
    page = _admin_import(client, project, KOREAN)
    assert KOREAN_SUMMARY in page
    assert all(line in page for line in KOREAN_LINES), page
    assert [word for word in ENGLISH_WORDS if word in page] == []
    assert "JSON 배열 또는 JSON Lines" in page  # the formats to choose from, too
    assert not project.prompts.exists()


def test_a_korean_admin_reads_the_summary_of_skipped_rows_in_korean(client, project, admin_user):
    client.force_login(admin_user)
    page = _admin_import(client, project, KOREAN, skip_invalid="on")
    summary = (
        "프롬프트 1개를 가져왔습니다(참고 모범 답변 0개). 중복 0개는 건너뛰었고, "
        "잘못된 행은 6개입니다."
    )
    assert summary in page and KOREAN_LINES[0] in page
    assert "Imported 1 prompt" not in page
    assert list(project.prompts.values_list("instruction", flat=True)) == ["Fine"]


def test_the_same_file_in_english_gives_the_english_report(client, project, admin_user):
    client.force_login(admin_user)
    page = _admin_import(client, project, ENGLISH)
    assert ENGLISH_SUMMARY in page
    assert all(line in page for line in ENGLISH_LINES), page
    assert "번째 줄" not in page


@pytest.mark.parametrize(
    ("language", "summary", "lines"),
    [(KOREAN, KOREAN_SUMMARY, KOREAN_LINES), (ENGLISH, ENGLISH_SUMMARY, ENGLISH_LINES)],
    ids=["ko", "en"],
)
def test_the_api_answers_the_rows_errors_in_the_requests_language(
    project, admin_user, language, summary, lines
):
    url = reverse("api:prompt_import", args=[project.slug])
    response = client_for(admin_user).post(url, {"file": _upload()}, format="multipart", **language)
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["invalid_rows"]) == ("import_invalid_rows", 6)
    assert (body["detail"], body["errors"]) == (summary, lines)
    assert not project.prompts.exists()


@pytest.mark.postgres  # the worker claims tasks with row locks (see test_tasks_worker)
@pytest.mark.django_db(transaction=True)
def test_the_import_job_reports_in_the_language_it_was_given(tmp_path):
    project = project_create(name="Worker", slug="worker")
    path = tmp_path / "talk.jsonl"
    turns = [{"role": "assistant", "content": "Hi"}]
    path.write_text(json.dumps({"messages": turns}) + "\n" + '{"messages": 3}\n')

    korean = prompts_import_task.enqueue(project.pk, str(path), language="ko")
    english = prompts_import_task.enqueue(project.pk, str(path))
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*")

    korean.refresh()
    english.refresh()
    assert korean.return_value == {
        "ok": False,
        "message": "\n".join(
            [
                "아무것도 가져오지 않았습니다: talk.jsonl에 잘못된 행 2개가 있습니다.",
                "  1번째 줄: messages[0]: 대화가 assistant 차례로 시작합니다. "
                "user 차례로 시작해야 합니다",
                "  2번째 줄: messages: {role, content}의 목록이어야 하는데 숫자입니다",
            ]
        ),
    }
    assert english.return_value["message"].splitlines() == [
        "Nothing imported: 2 invalid rows in talk.jsonl.",
        "  line 1: messages[0]: the conversation opens with assistant; it must open with user",
        "  line 2: messages: expected a list of {role, content}, got a number",
    ]
    assert not Prompt.objects.filter(project=project).exists()
