"""Domain documents: uploaded several files at once (.txt, .md, .jsonl) in the admin's
"Upload documents…" and through the API, cleaned and stored, duplicates skipped and counted;
a bad file refuses the whole upload with a message naming it (and the line); the `documents`
export writes one {"text"} row per document, split by document with the export's seed."""

import json
import random
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.exports.split import split_of
from labeling.models import DatasetExport, Document, Role
from labeling.services.documents import documents_upload
from labeling.services.exports import dataset_export_create, dataset_export_run
from labeling.services.projects import membership_grant
from tests.api.conftest import client_for
from tests.factories import ProjectFactory, UserFactory
from training.engine.documents import clean_document

pytestmark = pytest.mark.django_db

UPLOAD = "admin:labeling_document_upload"
OTTERS = "Otters hold hands while they sleep.\r\n\r\n\r\n\r\nThey  have\tdense   fur.  \n"
GUIDE = "# River guide\n\nHerons stand still in *shallow* water.\n\n- waders\n- hunters\n"
LINES = [
    {"text": "Tea is steeped, not boiled.", "title": "Tea"},
    {"text": "Otters hold hands while they sleep.\n\nThey have dense fur."},  # = the .txt
    {"text": "   \n\t "},  # nothing left after cleaning: dropped, counted
    {"text": "Bread rises\x00 because yeast\x07 makes gas."},
]


def jsonl(rows) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode() + b"\n\n"


def good_files() -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile("otters.txt", OTTERS.encode()),
        SimpleUploadedFile("guide.md", ("\ufeff" + GUIDE).encode()),
        SimpleUploadedFile("notes.jsonl", jsonl(LINES)),
    ]


WORDS = [
    *("otter", "heron", "river", "bread", "tea", "owl", "valley", "stone", "reed", "willow"),
    *("salmon", "dawn", "mist", "bank", "current", "nest", "feather", "moss", "pebble", "rain"),
    *("meadow", "fox", "badger", "oak", "ash", "elm", "ferry", "bridge", "mill", "weir"),
]
BAD_FILES = {
    "not UTF-8": ("latin1.txt", "Caf\xe9 au lait.".encode("latin-1"), "latin1.txt: not UTF-8"),
    "empty": ("blank.md", b" \n\t\x00\r\n  ", "blank.md: empty after cleaning"),
    "text not a string": (
        "numbers.jsonl",
        b'{"text": "fine"}\n{"text": 42}\n',
        'numbers.jsonl line 2: "text" is a number, not a string',
    ),
    "no text field": ("fields.jsonl", b'{"body": "x"}\n', 'fields.jsonl line 1: no "text" field'),
    "not JSON": ("broken.jsonl", b'{"text": "a"}\n\n{"text": \n', "broken.jsonl line 3: not JSON"),
    "another kind of file": ("paper.pdf", b"%PDF-1.4", "paper.pdf: not a .txt, .md or .jsonl"),
}


@pytest.fixture
def project():
    return ProjectFactory(slug="docs")


@pytest.fixture
def admin_user(project):
    user = UserFactory(username="boss")
    membership_grant(project=project, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def stored(project) -> dict[str, Document]:
    return {d.title: d for d in Document.objects.filter(project=project)}


# --- the admin ---------------------------------------------------------------------------------


def test_admin_upload_stores_text_markdown_and_json_lines_at_once(admin_client, project):
    response = admin_client.post(
        reverse(UPLOAD), {"project": project.pk, "files": good_files()}, follow=True
    )

    assert response.status_code == 200
    documents = stored(project)
    assert set(documents) == {"otters.txt", "River guide", "Tea", "notes.jsonl line 4"}
    otters = documents["otters.txt"]
    assert otters.text == "Otters hold hands while they sleep.\n\nThey have dense fur."
    assert otters.chars == len(otters.text) and otters.uploaded_by.username == "boss"
    assert documents["River guide"].text == GUIDE.strip()  # Markdown kept as written
    assert documents["notes.jsonl line 4"].text == "Bread rises because yeast makes gas."
    assert documents["Tea"].source_line == 1 and documents["Tea"].source_file == "notes.jsonl"
    message = messages_of(response)
    assert "Stored 4 documents" in message and "1 duplicate skipped" in message
    assert "1 empty line dropped" in message and "from 3 files" in message
    assert b"River guide" in response.content  # the list of the project's documents

    again = admin_client.post(
        reverse(UPLOAD), {"project": project.pk, "files": good_files()}, follow=True
    )
    assert "Stored 0 documents" in messages_of(again)
    assert "5 duplicates skipped" in messages_of(again)
    assert Document.objects.filter(project=project).count() == 4


@pytest.mark.parametrize("case", BAD_FILES)
def test_admin_upload_with_a_bad_file_stores_nothing_and_names_the_file(
    admin_client, project, case
):
    name, content, expected = BAD_FILES[case]
    files = [*good_files(), SimpleUploadedFile(name, content)]

    response = admin_client.post(reverse(UPLOAD), {"project": project.pk, "files": files})

    assert response.status_code == 200  # the page again, with the problems
    assert "Nothing was stored" in response.content.decode()
    errors = response.context["form"].errors["files"]
    assert any(expected in error for error in errors), errors
    assert not Document.objects.exists()


def test_admin_upload_page_is_reached_from_the_project_and_its_documents(admin_client, project):
    change = admin_client.get(reverse("admin:labeling_project_change", args=[project.pk]))
    upload_url = f"{reverse(UPLOAD)}?project={project.pk}"
    assert upload_url in change.content.decode()

    page = admin_client.get(upload_url)
    assert page.status_code == 200 and page.context["form"]["project"].value() == str(project.pk)
    listed = admin_client.get(reverse("admin:labeling_document_changelist"))
    assert "Upload documents…" in listed.content.decode()


def test_another_projects_admin_cannot_upload_into_this_project(client, project):
    other = ProjectFactory(slug="other")
    outsider = UserFactory(username="outsider")
    membership_grant(project=other, user=outsider, role=Role.ADMIN)
    client.force_login(outsider)

    response = client.post(reverse(UPLOAD), {"project": project.pk, "files": good_files()})

    assert "project" in response.context["form"].errors
    assert not Document.objects.exists()


# --- the API -----------------------------------------------------------------------------------


def api_upload(user, project, files):
    url = reverse("api:documents_upload", args=[project.slug])
    return client_for(user).post(url, {"files": files}, format="multipart")


def test_api_upload_stores_several_files_and_counts_duplicates(admin_user, project):
    response = api_upload(admin_user, project, good_files())

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["files"], body["stored"], body["duplicates"], body["empty"]) == (3, 4, 1, 1)
    assert body["duplicates_in_upload"] == 1 and body["chars"] > 0
    again = api_upload(admin_user, project, good_files()).json()
    assert (again["stored"], again["duplicates_existing"]) == (0, 5)
    assert Document.objects.filter(project=project).count() == 4


@pytest.mark.parametrize("case", BAD_FILES)
def test_api_upload_with_a_bad_file_answers_400_naming_it(admin_user, project, case):
    name, content, expected = BAD_FILES[case]

    response = api_upload(admin_user, project, [*good_files(), SimpleUploadedFile(name, content)])

    assert response.status_code == 400
    errors = response.json()["files"]
    assert any(expected in error for error in errors), errors
    assert not Document.objects.exists()


def test_every_bad_file_of_an_upload_is_listed(admin_user, project):
    files = [SimpleUploadedFile(name, content) for name, content, _ in BAD_FILES.values()]
    errors = api_upload(admin_user, project, files).json()["files"]
    for _, _, expected in BAD_FILES.values():
        assert any(expected in error for error in errors), (expected, errors)


def test_api_upload_is_for_the_projects_admins_only(project):
    annotator = UserFactory(username="annotator")
    membership_grant(project=project, user=annotator, role=Role.ANNOTATOR)
    outsider = UserFactory(username="outsider")

    assert api_upload(annotator, project, good_files()).status_code == 403
    assert api_upload(outsider, project, good_files()).status_code == 404
    assert api_upload(None, project, good_files()).status_code in (401, 403)
    assert not Document.objects.exists()


# --- cleaning and the export -------------------------------------------------------------------


def test_a_stored_text_is_what_continued_pre_training_trains_on(project):
    """The engine cleans documents again when a snapshot loads; it changes nothing more."""
    messy = "\ufeffA\u2028B\r\nC\x1b[0m\x0c  D \u00a0 E\n\n\n\nF\u200dG\t\tH  "
    assert clean_document(messy) == "A\nB\nC[0m D E\n\nF\u200dG H"
    escaped = b'{"text": "half \\ud800 a pair", "title": "odd \\udfff title"}\n'
    documents_upload(
        project=project, files=[*good_files(), SimpleUploadedFile("odd.jsonl", escaped)]
    )
    assert stored(project)["odd title"].text == "half a pair"  # no database stores a surrogate
    for document in Document.objects.filter(project=project):
        assert clean_document(document.text) == document.text


def test_no_files_is_refused(project):
    with pytest.raises(ValidationError) as refused:
        documents_upload(project=project, files=[])
    assert "files" in refused.value.message_dict


def documents_export(project, tmp_path, settings, **arguments) -> DatasetExport:
    settings.EXPORTS_DIR = tmp_path / "exports"
    export = dataset_export_create(project=project, format="documents", **arguments)
    export = dataset_export_run(export=export)
    assert export.status == DatasetExport.Status.DONE, export.error
    return export


def split_rows(export) -> dict[str, list[dict]]:
    directory = Path(export.path)
    return {
        split: [json.loads(line) for line in (directory / f"{split}.jsonl").open()]
        for split in ("train", "validation", "test")
    }


def test_documents_export_writes_one_text_row_per_document_split_by_document(
    project, tmp_path, settings
):
    texts = [" ".join(random.Random(n).sample(WORDS, 12)) for n in range(30)]
    rows = [{"text": text} for text in texts]
    documents_upload(project=project, files=[SimpleUploadedFile("rivers.jsonl", jsonl(rows))])
    ratios = (0.6, 0.2, 0.2)

    export = documents_export(project, tmp_path, settings, split=ratios, seed=7)

    by_split = split_rows(export)
    assert sum(len(rows) for rows in by_split.values()) == 30 == export.rows_total
    for split, rows in by_split.items():
        for row in rows:
            assert row["text"] in texts and row["sources"] == [f"document:{row['document_id']}"]
            assert split_of(row["document_id"], seed=7, ratios=ratios) == split
    manifest = json.loads((Path(export.path) / "manifest.json").read_text())
    assert manifest["format"] == "documents"
    assert manifest["split"] == {
        "by": "document",
        "seed": 7,
        "ratios": {"train": 0.6, "validation": 0.2, "test": 0.2},
    }
    assert manifest["documents"]["exported"] == 30
    assert manifest["rows"] == {split: len(rows) for split, rows in by_split.items()}
    # The same seed splits the same documents the same way.
    assert split_rows(documents_export(project, tmp_path, settings, split=ratios, seed=7)) == (
        by_split
    )


def test_near_duplicate_documents_are_exported_once(project, tmp_path, settings):
    text = (
        "The heron waits in the shallows at dawn, still as a post, for the fish to come. "
        "Its neck is folded back like a spring; its eyes follow every ripple. When a fish "
        "passes within reach, the neck straightens faster than the eye can follow, and the "
        "bill closes on it. Herons nest together in tall trees, in colonies called heronries."
    )
    rows = [{"text": text}, {"text": text + " Then it strikes."}, {"text": "Tea is steeped."}]
    documents_upload(project=project, files=[SimpleUploadedFile("herons.jsonl", jsonl(rows))])

    export = documents_export(project, tmp_path, settings, held_out=False)

    assert [row["text"] for row in split_rows(export)["train"]] == [text, "Tea is steeped."]
    assert export.manifest["duplicates"]["documents_near"] == 1
    kept = documents_export(
        project, tmp_path, settings, held_out=False, options={"near_duplicates": False}
    )
    assert kept.rows_train == 3


def test_a_documents_export_of_a_project_without_documents_warns_it_is_empty(
    project, tmp_path, settings
):
    export = documents_export(project, tmp_path, settings)
    assert export.rows_total == 0
    codes = [warning["code"] for warning in export.manifest["warnings"]]
    assert codes == ["export_empty"]
    assert "no document has rows" in export.manifest["warnings"][0]["message"]
