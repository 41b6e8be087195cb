"""Domain documents to a trained adapter, as an admin clicks it: upload documents
(documents_upload, the service of "Upload documents…" and the API), export them in the
`documents` format (dataset_export_create/run), start continued pre-training on the export
(training_run_create) and let the worker train it (training_run_execute), on the bundled
model for one step."""

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import DatasetExport
from labeling.services.documents import documents_upload
from labeling.services.exports import dataset_export_create, dataset_export_run
from tests.factories import ProjectFactory, split_seed
from training.engine.data import load_snapshot
from training.models import TrainingRun
from training.services.runs import training_run_create, training_run_execute

pytestmark = pytest.mark.django_db

ONE_STEP = {"max_steps": 1, "batch_size": 2, "eval": False, "cpt": {"chunk_length": 64}}
SPLIT = (0.75, 0.25, 0.0)
RIVER_GUIDE = """# The river guide

Herons stand still in shallow water and strike at passing fish.

## Otters

Otters hold hands while they sleep, so that the current does not part them.
"""
NOTES = [
    "Tea is steeped in water just off the boil for three to five minutes.",
    "Bread rises because yeast turns sugar into carbon dioxide, which the dough traps.",
    "Owls turn their heads far round, as their eyes are fixed in their sockets.",
    "Willows grow along riverbanks; their roots hold the soil against the floods.",
    "Salmon return from the sea to the stream where they hatched, to spawn there.",
]


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.MODELS_DIR = tmp_path / "models"


def uploaded_project(slug: str):
    project = ProjectFactory(slug=slug)
    lines = "".join(json.dumps({"text": text}) + "\n" for text in NOTES)
    report = documents_upload(
        project=project,
        files=[
            SimpleUploadedFile("guide.md", RIVER_GUIDE.encode()),
            SimpleUploadedFile("notes.jsonl", lines.encode()),
            SimpleUploadedFile("again.txt", NOTES[0].encode()),  # a duplicate: skipped
        ],
    )
    assert (report.stored, report.duplicates) == (6, 1)
    return project


def documents_export(project) -> DatasetExport:
    seed = split_seed(
        project.documents.values_list("pk", flat=True), SPLIT, min_train=4, min_held_out=1
    )
    export = dataset_export_create(project=project, format="documents", split=SPLIT, seed=seed)
    export = dataset_export_run(export=export)
    assert export.status == DatasetExport.Status.DONE, export.error
    return export


def test_uploaded_documents_exported_as_documents_train_cpt_to_an_adapter():
    project = uploaded_project("cpt-documents")
    export = documents_export(project)
    loaded = load_snapshot(export.path, "cpt")
    assert loaded.stats.export_format == "documents"
    assert set(loaded.splits["train"].column_names) == {"text"}
    assert len(loaded.splits["train"]) == export.rows_train >= 4

    run = training_run_create(
        project=project, method="cpt", export=export, overrides=ONE_STEP, enqueue=False
    )
    run = training_run_execute(run=run)

    assert run.status == TrainingRun.Status.SUCCEEDED, f"{run.error}\n{run.log}"
    adapter = Path(run.result_version.adapter_path)
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "adapter_model.safetensors").is_file()
    meta = json.loads((adapter / "meta.json").read_text())
    assert meta["method"] == "cpt" and run.step == 1
    assert run.metrics["documents"] == export.rows_train


def test_a_documents_export_is_refused_for_methods_that_do_not_take_it():
    project = uploaded_project("sft-documents")
    export = documents_export(project)

    with pytest.raises(ValidationError) as refused:
        training_run_create(
            project=project, method="sft", export=export, overrides=ONE_STEP, enqueue=False
        )

    message = " ".join(refused.value.messages)
    assert "not on documents ones" in message and "Continued pre-training" in message
    assert not TrainingRun.objects.filter(project=project).exists()
