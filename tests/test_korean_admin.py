"""The project's admin pages in Korean: every page the project adds renders with Korean chosen
and shows none of the English strings marked for translation, and the catalog is complete.

The check reads locale/ko/LC_MESSAGES/django.po: each msgid is an English string some page
may show; none of its sentences may be left on a page rendered in Korean. Short labels
("Rule", "Back") are too common as plain words to look for, so those pages are also checked
for the Korean of known strings.
"""

import gettext
import html
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from labeling.models import DatasetExport, Document, Membership, Role
from labeling.services.queue import judgement_submit, task_next
from serving.models import ModelServer
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory
from tests.labeling.exports.builders import demonstration, exported
from training.models import ModelVersion
from training.services.runs import training_run_create

pytestmark = pytest.mark.django_db

PO = Path(settings.BASE_DIR) / "locale" / "ko" / "LC_MESSAGES" / "django.po"
KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko"}
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}|<[^>]+>")


def _po_entries() -> list[dict]:
    """msgid, msgstr (the first form of a plural), flags of each live entry of the .po."""
    entries = []
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        entry, field = {"flags": set(), "msgid": "", "msgstr": ""}, None
        for line in lines:
            if line.startswith("#,"):
                entry["flags"] = {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("msgid "):
                field = "msgid"
            elif line.startswith(("msgstr ", "msgstr[0] ")):
                field = "msgstr"
            elif line.startswith(("msgid_plural", "msgstr[")):
                field = None
            if field and '"' in line and not line.startswith("#"):
                text = line[line.index('"') + 1 : line.rindex('"')]
                entry[field] += text.replace('\\"', '"').replace("\\n", "\n")
        if entry["msgid"]:
            entries.append(entry)
    return entries


def _sentences(msgid: str) -> list[str]:
    """The literal parts of a msgid long enough to be unmistakably it (three words or more)."""
    text = msgid.replace("%%", "%")
    return [part.strip() for part in PLACEHOLDER.split(text) if len(part.strip().split()) >= 3]


def test_the_korean_catalog_is_complete_and_compiled():
    entries = _po_entries()
    assert len(entries) > 400
    untranslated = [e["msgid"] for e in entries if not e["msgstr"]]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert (untranslated, fuzzy) == ([], [])
    with (PO.parent / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)._catalog
    stale = [e["msgid"] for e in entries if e["msgid"] not in catalog and "%" not in e["msgid"]]
    assert stale == [], "django.mo is older than django.po: run compilemessages"


@pytest.fixture
def loop(settings, tmp_path):
    """A project with what each admin page lists: prompts, judgements, a demonstration, a
    finished export, a queued run, a document, a model server."""
    settings.EXPORTS_DIR = tmp_path / "exports"
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    project = ProjectFactory(
        name="Loop", slug="loop", task_kinds=["rank"], overlap=2, completions_per_prompt=2
    )
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    annotators = [UserFactory(username=f"annotator{index}") for index in range(2)]
    for index in range(4):
        prompt = PromptFactory(project=project)
        CompletionFactory.create_batch(2, prompt=prompt)
        demonstration(prompt, f"답변 {index}", author=annotators[0])
    for user in annotators:
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        while (task := task_next(annotator=user, project=project)) is not None:
            ranking = [[pk] for pk in sorted(task.completion_ids)]
            judgement_submit(token=task.token, annotator=user, ranking=ranking, time_spent_ms=9)
    export = exported(project, DatasetExport.Format.ALPACA, split=(1.0, 0.0, 0.0))
    run = training_run_create(project=project, method="sft", export=export, enqueue=False)
    Document.objects.create(
        project=project, title="문서", text="본문", chars=2, sha256="0" * 64, source_file="a.txt"
    )
    ModelServer.objects.create(url="http://127.0.0.1:9/v1", state=ModelServer.State.DOWN)
    return {
        "admin": admin,
        "annotators": annotators,
        "project": project,
        "export": export,
        "run": run,
    }


def _pages(client, loop):
    """(name, response) of every admin page the project adds, requested in Korean."""
    project, export, run = loop["project"], loop["export"], loop["run"]
    version = ModelVersion.objects.get(project=project, number=0)
    prompt = project.prompts.first()
    get = {
        "index": reverse("admin:index"),
        "projects": reverse("admin:labeling_project_changelist"),
        "project": reverse("admin:labeling_project_change", args=[project.pk]),
        "project add": reverse("admin:labeling_project_add"),
        "quality dashboard": reverse("admin:labeling_project_quality", args=[project.pk]),
        "exports": reverse("admin:labeling_datasetexport_changelist"),
        "export": reverse("admin:labeling_datasetexport_change", args=[export.pk]),
        "runs": reverse("admin:training_trainingrun_changelist"),
        "run": reverse("admin:training_trainingrun_change", args=[run.pk]),
        "model versions": reverse("admin:training_modelversion_changelist"),
        "model version": reverse("admin:training_modelversion_change", args=[version.pk]),
        "model servers": reverse("admin:serving_modelserver_changelist"),
        "documents": reverse("admin:labeling_document_changelist"),
        "document upload": reverse("admin:labeling_document_upload"),
        "prompts": reverse("admin:labeling_prompt_changelist"),
        "prompt": reverse("admin:labeling_prompt_change", args=[prompt.pk]),
        "prompt import": reverse("admin:labeling_prompt_import"),
        "judgements": reverse("admin:labeling_judgement_changelist"),
        "assignments": reverse("admin:labeling_assignment_changelist"),
        "completions": reverse("admin:labeling_completion_changelist"),
        "demonstrations": reverse("admin:labeling_demonstration_changelist"),
    }
    pages = [(name, client.get(url, **KOREAN)) for name, url in get.items()]
    progress = reverse("training:run_progress", args=[run.pk])
    pages.append(("run progress", client.get(progress, HTTP_HX_REQUEST="true", **KOREAN)))
    annotator = Client()
    annotator.force_login(loop["annotators"][0])
    my_work = reverse("labeling:my_work", kwargs={"slug": project.slug})
    pages.append(("my work", annotator.get(my_work, **KOREAN)))
    actions = {
        "export form": ("labeling_project_changelist", "export_dataset", project.pk),
        "training form": ("labeling_project_changelist", "start_training_run", project.pk),
        "train on export form": ("labeling_datasetexport_changelist", "train_on_export", export.pk),
    }
    for name, (changelist, action, pk) in actions.items():
        data = {"action": action, "_selected_action": [pk]}
        pages.append((name, client.post(reverse(f"admin:{changelist}"), data, **KOREAN)))
    again = {"action": "export_again", "_selected_action": [export.pk]}
    url = reverse("admin:labeling_datasetexport_changelist")
    pages.append(("export again message", client.post(url, again, follow=True, **KOREAN)))
    return pages


# The Korean of a few known strings on each page: proof the page is translated, not only free
# of the longer English sentences.
KNOWN = {
    "project": ["작업 종류", "가중치", "응답 순위 매기기", "샘플링", "품질 대시보드"],
    "quality dashboard": ["활동", "다른 작업자와의 일치도", "골드 정확도", "모델 순위표"],
    "export form": ["데이터셋 내보내기", "형식", "평가용 행 없음", "뒤로"],
    "training form": ["학습 시작", "기준 버전", "성공하면", "지도 미세 조정"],
    "run": ["진행: 대기 중", "실행 취소", "성공하면"],
    "model versions": ["게시 (운영에 반영)", "이 버전으로 되돌리기", "운영 중"],
    "model servers": ["중단됨", "어댑터 (에이전트의 마지막 보고)"],
    "documents": ["문서 올리기…"],
    "prompt import": ["프롬프트 가져오기", "잘못된 행 건너뛰기"],
    "my work": ["내 속도", "다른 작업자와의 일치도", "응답 쌍 4개 중 4개를"],
    "export again message": ["실패한 내보내기만 다시 시작할 수 있습니다"],
}


def test_every_admin_page_renders_in_korean_without_marked_english(client, loop):
    client.force_login(loop["admin"])
    # Parts a translation keeps as they are (column names, code) are no English left over.
    entries = _po_entries()
    sentences = {s for e in entries for s in _sentences(e["msgid"]) if s not in e["msgstr"]}
    assert "Choose at least one task kind." in sentences
    left, missing = {}, {}
    for name, response in _pages(client, loop):
        assert response.status_code == 200, (name, response.status_code)
        text = html.unescape(response.content.decode())
        if name != "run progress":  # a fragment, no <html>
            assert '<html lang="ko"' in text, name
        english = sorted(s for s in sentences if s in text)
        if english:
            left[name] = english
        absent = [phrase for phrase in KNOWN.get(name, []) if phrase not in text]
        if absent:
            missing[name] = absent
    assert left == {}
    assert missing == {}


# Field labels and model names come from the models' verbose names, which Django would
# otherwise derive, in English, from the attribute names: on each page the Korean of a few,
# and none of the English names Django would have made.
VERBOSE_NAMES = {
    "index": (
        ["학습 실행", "모델 버전", "모델 서버", "데이터셋 내보내기", "프롬프트 초안", "배정"],
        ["Training runs", "Model versions", "Model servers", "Dataset exports", "Draft prompts"],
    ),
    "project": (
        ["슬러그", "프롬프트당 응답 수", "중복 판정 인원", "골드 비율", "최대 토큰 수"],
        ["Slug", "Completions per prompt", "Overlap", "Gold share", "Max tokens", "Top p"],
    ),
    "prompts": (
        ["변경할 프롬프트 선택", "언어", "출처", "만든 시각"],
        ["Select prompt to change", "Created at", "By language", "By source"],
    ),
    "run": (
        ["스냅샷 디렉터리", "하트비트 시각", "취소 요청됨", "전체 단계", "결과 버전"],
        ["Snapshot dir", "Heartbeat at", "Cancel requested", "Total steps", "Result version"],
    ),
}


def test_field_labels_and_model_names_render_in_korean(client, loop):
    client.force_login(loop["admin"])
    urls = {
        "index": reverse("admin:index"),
        "project": reverse("admin:labeling_project_change", args=[loop["project"].pk]),
        "prompts": reverse("admin:labeling_prompt_changelist"),
        "run": reverse("admin:training_trainingrun_change", args=[loop["run"].pk]),
    }
    english, missing = {}, {}
    for name, url in urls.items():
        response = client.get(url, **KOREAN)
        assert response.status_code == 200, name
        text = html.unescape(response.content.decode())
        korean, derived = VERBOSE_NAMES[name]
        if left := [label for label in derived if label in text]:
            english[name] = left
        if absent := [label for label in korean if label not in text]:
            missing[name] = absent
    assert english == {}
    assert missing == {}


def test_an_export_request_refused_at_the_click_says_why_in_korean(client, loop):
    """The export form's and the API's refusals (split, filters, options) in Korean."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(loop["admin"])
    url = reverse("api:exports", args=[loop["project"].slug])
    refusals = {
        "split": {"format": "preference", "split": [0.0, 0.5, 0.5]},
        "filters": {"format": "preference", "filters": {"date_from": "soon"}},
        "options": {"format": "alpaca", "options": {"min_chosen_helpful": 4}},
    }
    for field, body in refusals.items():
        english = api.post(url, body, format="json").json()
        korean = api.post(url, body, format="json", HTTP_ACCEPT_LANGUAGE="ko").json()
        assert english[field] != korean[field], field
        assert re.search(r"[\uac00-\ud7a3]", korean[field][0]), korean
    assert not DatasetExport.objects.exclude(pk=loop["export"].pk).exists()

    client.force_login(loop["admin"])
    data = {
        "action": "export_dataset",
        "_selected_action": [loop["project"].pk],
        "apply": "1",
        "format": "preference",
        "rule": "all",
        "split": "0,0.5,0.5",
        "seed": "0",
    }
    page = client.post(reverse("admin:labeling_project_changelist"), data, **KOREAN)
    assert "학습 분할은 비워 둘 수 없습니다." in html.unescape(page.content.decode())
    unreadable = {**data, "split": "most,some"}
    page = client.post(reverse("admin:labeling_project_changelist"), unreadable, **KOREAN)
    assert "합이 1이 되는 음수가 아닌 비율 세 개여야 합니다." in html.unescape(
        page.content.decode()
    )
