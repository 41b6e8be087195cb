"""Prompts in the admin: added and corrected through the services (the dedupe key follows the
text), and "Import prompts…", all or nothing with the CLI's report; in the admin's projects."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.models import Prompt, Role
from labeling.services.projects import membership_grant
from labeling.services.prompts import prompt_dedupe_key
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD = "admin:labeling_prompt_add"
IMPORT = "admin:labeling_prompt_import"
GOOD = b'{"instruction": "Say hi", "output": "Hi!"}\n{"instruction": "Say bye"}\n'
BAD = b'{"instruction": "Fine"}\n{"instruction": ""}\n{"input": "no instruction"}\n'


@pytest.fixture
def project():
    return ProjectFactory(slug="mine")


@pytest.fixture
def elsewhere():
    return ProjectFactory(slug="theirs")


@pytest.fixture(params=["superuser", "project admin"])
def admin_client(request, client, project):
    if request.param == "superuser":
        user = UserFactory(username="root", is_staff=True, is_superuser=True)
    else:
        user = UserFactory(username="boss")
        membership_grant(project=project, user=user, role=Role.ADMIN)
    client.force_login(user)
    return client


@pytest.fixture
def project_admin_client(client, project):
    user = UserFactory(username="boss")
    membership_grant(project=project, user=user, role=Role.ADMIN)
    client.force_login(user)
    return client


def change_url(prompt):
    return reverse("admin:labeling_prompt_change", args=[prompt.pk])


def correction(prompt, **fields):
    return {
        "instruction": prompt.instruction,
        "input": prompt.input,
        "category": prompt.category,
        "gold_verdict": "null",
        **fields,
    }


def test_an_admin_adds_a_prompt_with_its_dedupe_key(admin_client, project):
    form = admin_client.get(reverse(ADD)).content.decode()
    for field in ("project", "instruction", "input", "category"):
        assert f'name="{field}"' in form
    added = admin_client.post(
        reverse(ADD),
        {"project": project.pk, "instruction": "Name a  colour.", "input": "", "category": "qa"},
    )
    assert added.status_code == 302
    prompt = project.prompts.get()
    assert (prompt.instruction, prompt.category) == ("Name a  colour.", "qa")
    assert prompt.source == "admin"
    assert prompt.dedupe_key == prompt_dedupe_key(instruction="name a colour.")

    again = admin_client.post(
        reverse(ADD), {"project": project.pk, "instruction": "NAME A COLOUR.", "category": ""}
    )
    assert "already in the project" in again.content.decode()
    assert project.prompts.count() == 1


def test_a_project_admin_adds_prompts_to_their_own_projects_only(
    project_admin_client, project, elsewhere
):
    form = project_admin_client.get(reverse(ADD)).content.decode()
    assert project.name in form and elsewhere.name not in form
    refused = project_admin_client.post(
        reverse(ADD), {"project": elsewhere.pk, "instruction": "Sneak in."}
    )
    assert "Select a valid choice" in refused.content.decode()
    assert not elsewhere.prompts.exists()


def test_an_admin_corrects_a_prompt_and_its_dedupe_key_follows(admin_client, project):
    prompt = PromptFactory(project=project, instruction="Waht is the capital of France?")
    other = PromptFactory(project=project, instruction="What is the capital of Spain?")
    form = admin_client.get(change_url(prompt)).content.decode()
    assert 'name="instruction"' in form and 'name="gold_verdict"' in form
    fixed = admin_client.post(
        change_url(prompt),
        correction(prompt, instruction="What is the capital of France?", category="geo"),
    )
    assert fixed.status_code == 302
    prompt.refresh_from_db()
    assert (prompt.instruction, prompt.category) == ("What is the capital of France?", "geo")
    assert prompt.dedupe_key == prompt_dedupe_key(instruction="What is the capital of France?")

    clash = admin_client.post(change_url(prompt), correction(prompt, instruction=other.instruction))
    assert "already in the project" in clash.content.decode()
    prompt.refresh_from_db()
    assert prompt.instruction == "What is the capital of France?"


def test_an_answered_prompt_keeps_its_text_but_takes_a_category(admin_client, project):
    prompt = CompletionFactory(prompt__project=project).prompt
    reworded = admin_client.post(
        change_url(prompt), correction(prompt, instruction="Something else entirely.")
    )
    assert "already answered as it is written" in reworded.content.decode()
    before = prompt.instruction
    prompt.refresh_from_db()
    assert prompt.instruction == before
    recategorized = admin_client.post(change_url(prompt), correction(prompt, category="misc"))
    assert recategorized.status_code == 302
    prompt.refresh_from_db()
    assert prompt.category == "misc"


def test_import_prompts_from_the_changelist(admin_client, project):
    changelist = admin_client.get(reverse("admin:labeling_prompt_changelist")).content.decode()
    assert reverse(IMPORT) in changelist and "Import prompts…" in changelist
    page = admin_client.get(reverse(IMPORT)).content.decode()
    assert 'name="file"' in page and 'name="format"' in page and 'name="skip_invalid"' in page
    imported = admin_client.post(
        reverse(IMPORT),
        {"project": project.pk, "file": SimpleUploadedFile("p.jsonl", GOOD), "format": ""},
        follow=True,
    )
    assert "Imported 2 prompts (1 reference demonstration)" in imported.content.decode()
    assert sorted(project.prompts.values_list("instruction", flat=True)) == ["Say bye", "Say hi"]


def test_a_bad_file_imports_nothing_and_lists_its_errors_by_line(admin_client, project):
    response = admin_client.post(
        reverse(IMPORT),
        {"project": project.pk, "file": SimpleUploadedFile("bad.jsonl", BAD), "format": "alpaca"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing imported: 2 invalid rows in bad.jsonl." in html
    assert "line 2: instruction:" in html and "line 3: instruction:" in html
    assert not project.prompts.exists()  # not even the valid first line

    skipped = admin_client.post(
        reverse(IMPORT),
        {"project": project.pk, "file": SimpleUploadedFile("bad.jsonl", BAD), "skip_invalid": "on"},
    )
    assert "line 2: instruction:" in skipped.content.decode()
    assert list(project.prompts.values_list("instruction", flat=True)) == ["Fine"]


def test_a_project_admin_imports_into_their_own_projects_only(
    project_admin_client, project, elsewhere
):
    page = project_admin_client.get(reverse(IMPORT)).content.decode()
    assert elsewhere.name not in page
    refused = project_admin_client.post(
        reverse(IMPORT), {"project": elsewhere.pk, "file": SimpleUploadedFile("p.jsonl", GOOD)}
    )
    assert "Select a valid choice" in refused.content.decode()
    assert not Prompt.objects.filter(project=elsewhere).exists()
