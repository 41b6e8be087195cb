import json
import stat
from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils.html import escape

from labeling.demo.prompts import DEMO_PROMPTS
from labeling.models import Demonstration, Project, Prompt, Role
from labeling.services.demo import DEMO_ACCOUNTS, demo_seed

pytestmark = pytest.mark.django_db

DOLLY_CATEGORIES = {
    "brainstorming",
    "open_qa",
    "closed_qa",
    "summarization",
    "classification",
    "information_extraction",
    "creative_writing",
    "general_qa",
}


@pytest.fixture(autouse=True)
def _tmp_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    # The demo sets five passwords per run; the default hasher would make that slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed(*, debug: bool, settings) -> str:
    settings.DEBUG = debug
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_demo_project_is_set_up_for_all_task_kinds():
    demo_seed()
    project = Project.objects.get(slug="demo")
    assert project.name == "Demo: instructions in English and Korean"
    assert set(project.task_kinds) == {
        "write",
        "answer",
        "rank",
        "compare",
        "rate",
        "edit",
        "continue",
    }
    conversations = Prompt.objects.filter(project=project).exclude(history=[])
    assert {p.language for p in conversations} == {"en", "ko"}
    assert (project.completions_per_prompt, project.overlap) == (4, 2)
    assert "Ties" in project.guidelines and "Cannot judge" in project.guidelines
    assert "한국어" in project.guidelines
    assert project.model_versions.filter(number=0).exists()


def test_prompts_are_half_english_half_korean_across_categories():
    report = demo_seed()
    prompts = Prompt.objects.filter(project=report.project)
    assert prompts.count() == len(DEMO_PROMPTS) >= 50
    languages = Counter(prompts.values_list("language", flat=True))
    assert set(languages) == {"en", "ko"}
    assert abs(languages["en"] - languages["ko"]) <= 2
    categories = set(prompts.values_list("category", flat=True))
    assert DOLLY_CATEGORIES | {"rewriting", "coding"} <= categories
    assert set(prompts.values_list("source", flat=True)) == {"demo"}
    korean = prompts.filter(language="ko").values_list("instruction", flat=True)
    assert all(any("가" <= char <= "힣" for char in text) for text in korean)


@pytest.mark.parametrize(
    "category", ["closed_qa", "summarization", "information_extraction", "rewriting"]
)
def test_prompts_that_work_on_a_passage_have_one(category):
    demo_seed()
    prompts = Prompt.objects.filter(project__slug="demo", category=category)
    assert prompts.exists()
    assert all(len(prompt.input) > 20 for prompt in prompts)


def test_some_prompts_come_with_an_imported_reference_answer():
    demo_seed()
    references = Demonstration.objects.filter(prompt__project__slug="demo")
    assert 5 <= references.count() <= 15
    assert set(references.values_list("origin", flat=True)) == {Demonstration.Origin.IMPORTED}
    assert {reference.prompt.language for reference in references} == {"en", "ko"}


def test_accounts_have_their_roles_and_no_superuser():
    report = demo_seed()
    for username, role in DEMO_ACCOUNTS.items():
        user = User.objects.get(username=username)
        assert not user.is_superuser
        assert report.project.memberships.get(user=user).role == role
        assert user.is_staff == (role == Role.ADMIN)
    assert User.objects.count() == 5


def test_running_twice_changes_nothing(settings):
    first = _seed(debug=True, settings=settings)
    credentials = json.loads((settings.VAR_DIR / "demo_credentials.json").read_text())
    second = _seed(debug=True, settings=settings)

    assert "Demo project 'demo': 62 prompts (62 new), 5 accounts (5 new)" in first
    assert "Demo project 'demo': 62 prompts (0 new), 5 accounts (0 new)" in second
    assert Prompt.objects.count() == 62 and User.objects.count() == 5
    assert Demonstration.objects.count() == sum(bool(p.reference) for p in DEMO_PROMPTS)
    assert json.loads((settings.VAR_DIR / "demo_credentials.json").read_text()) == credentials
    for username, password in credentials.items():
        assert password in first and password in second
        assert authenticate(username=username, password=password) is not None


def test_credentials_file_is_private(settings):
    demo_seed()
    path = settings.VAR_DIR / "demo_credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_changed_password_is_kept_and_not_shown(settings):
    _seed(debug=True, settings=settings)
    user = User.objects.get(username="annotator1")
    user.set_password("chosen by the annotator")
    user.save()

    output = _seed(debug=True, settings=settings)

    assert authenticate(username="annotator1", password="chosen by the annotator")
    stale = json.loads((settings.VAR_DIR / "demo_credentials.json").read_text())["annotator1"]
    assert stale not in output


def test_credentials_are_printed_only_with_debug_on(settings):
    shown = _seed(debug=True, settings=settings)
    hidden = _seed(debug=False, settings=settings)
    passwords = json.loads((settings.VAR_DIR / "demo_credentials.json").read_text()).values()

    assert all(password in shown for password in passwords)
    assert not any(password in hidden for password in passwords)
    assert "changepassword" in hidden
    assert all(username in hidden for username in DEMO_ACCOUNTS)


def test_demo_admin_sees_the_demo_prompts_in_the_django_admin(client):
    report = demo_seed()
    admin = next(account for account in report.accounts if account.username == "demo-admin")
    instructions = [
        "Write a short poem about a cat watching the rain from a window.",
        "첫눈 오는 날을 주제로 짧은 시를 써 주세요.",
    ]

    assert client.login(username="demo-admin", password=admin.password)
    response = client.get("/admin/labeling/prompt/")

    assert response.status_code == 200
    page = response.content.decode()
    assert all(escape(instruction) in page for instruction in instructions)


def test_annotator_cannot_open_the_django_admin(client):
    report = demo_seed()
    annotator = next(account for account in report.accounts if account.username == "annotator1")

    assert client.login(username="annotator1", password=annotator.password)
    response = client.get("/admin/")

    assert response.status_code in {302, 403}
    if response.status_code == 302:
        assert "/admin/login/" in response["Location"]
