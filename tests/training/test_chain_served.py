"""CPT → SFT → DPO on the demo project, each run started from the version before it, served by
the real vLLM server: the admin uploads documents and exports them, trains CPT and publishes
it; exports the demo's reference answers (Alpaca) and trains SFT from the CPT version; exports
the demo annotators' preferences and trains DPO from the SFT version. The DPO version hot-loads
(no restart) and answers as the live model; rolling back to the SFT version makes that one live
and answering, and rolling back to version 0 the base model. Each run's time is printed (`-s`)."""

import json
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import DatasetExport
from labeling.services.demo import demo_seed
from labeling.services.documents import documents_upload
from labeling.services.exports import dataset_export_create, dataset_export_run
from serving.vllm.client import Sampling
from tests.factories import split_seed
from training.engine.prompts import prompt_messages
from training.models import ModelVersion, TrainingRun
from training.selectors.runs import run_lineage
from training.selectors.versions import live_version
from training.services.runs import training_run_create, training_run_execute
from training.services.versions import model_version_rollback

pytestmark = [pytest.mark.vllm, pytest.mark.django_db(transaction=True)]

# Two optimiser steps each: the chain holds together, not how well it learns.
STEPS = {"max_steps": 2, "batch_size": 2, "max_length": 128, "eval": False}
CPT_STEPS = {**STEPS, "cpt": {"chunk_length": 64}}
SPLIT = (0.8, 0.2, 0.0)
DOCUMENTS = [
    "Herons stand still in shallow water and strike at passing fish.",
    "Otters hold hands while they sleep, so that the current does not part them.",
    "Tea is steeped in water just off the boil for three to five minutes.",
    "Bread rises because yeast turns sugar into carbon dioxide, which the dough traps.",
    "Owls turn their heads far round, as their eyes are fixed in their sockets.",
    "Salmon return from the sea to the stream where they hatched, to spawn there.",
]
PROBE = prompt_messages("Tell me one fact about herons.")


@pytest.fixture
def served(settings, vllm_server, tmp_path):
    """The app pointed at the test server, its files under tmp_path."""
    settings.VLLM_URLS = [vllm_server.url]
    settings.VLLM_SEND_SEED = False
    settings.VAR_DIR = tmp_path
    settings.MODELS_DIR = tmp_path / "models"
    settings.EXPORTS_DIR = tmp_path / "exports"
    return vllm_server


def exported(project, format: str, ids) -> DatasetExport:
    seed = split_seed(ids, SPLIT, min_train=4, min_held_out=1)
    export = dataset_export_create(
        project=project, format=format, split=SPLIT, seed=seed, options={"near_duplicates": False}
    )
    export = dataset_export_run(export=export)
    assert export.status == DatasetExport.Status.DONE, export.error
    assert export.rows_train >= 4, export.manifest
    return export


def published_run(project, method, export, parent, overrides, timings) -> ModelVersion:
    """What the admin's "Train on this export…" with "publish when it succeeds" does, from
    `parent`; the new version, live."""
    started = time.monotonic()
    run = training_run_create(
        project=project,
        method=method,
        export=export,
        base_version=parent,
        overrides=overrides,
        publish=TrainingRun.Publish.ALWAYS,
        enqueue=False,
    )
    run = training_run_execute(run=run)
    timings[method] = time.monotonic() - started
    assert run.status == TrainingRun.Status.SUCCEEDED, f"{run.error}\n{run.log}"
    assert run.gate["published"] is True, run.gate
    version = run.result_version
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.LIVE
    assert version.parent == parent
    return version


def answers(server, name: str) -> str:
    reply = server.client.chat(
        model=name, messages=PROBE, sampling=Sampling(n=1, temperature=0.0, max_tokens=12)
    )
    return reply.choices[0].text


def assert_serving(server, project, version) -> None:
    """`version` is the live one, the server lists it (an adapter on the base) and answers
    a chat request addressed to it."""
    assert live_version(project) == version
    listed = {model.id: model.parent for model in server.client.models()}
    assert version.served_name in listed, listed
    if version.is_adapter:
        assert listed[version.served_name] == server.served_name
    assert answers(server, version.served_name).strip()


def test_cpt_then_sft_then_dpo_serve_as_one_chain_and_roll_back(served):
    started = time.monotonic()
    timings: dict[str, float] = {}
    project = demo_seed(judgements=30).project
    base = project.model_versions.get(number=0)
    assert base.served_name == served.served_name
    lines = "".join(json.dumps({"text": text}) + "\n" for text in DOCUMENTS)
    documents_upload(project=project, files=[SimpleUploadedFile("notes.jsonl", lines.encode())])
    prompt_ids = project.prompts.values_list("pk", flat=True)
    documents = exported(project, "documents", project.documents.values_list("pk", flat=True))

    cpt = published_run(project, "cpt", documents, base, CPT_STEPS, timings)
    assert_serving(served, project, cpt)
    sft = published_run(
        project, "sft", exported(project, "alpaca", prompt_ids), cpt, STEPS, timings
    )
    dpo = published_run(
        project, "dpo", exported(project, "preference", prompt_ids), sft, STEPS, timings
    )

    # The lineage: each version continued its parent's adapter, back to the base model.
    assert [dpo.parent, dpo.parent.parent, dpo.parent.parent.parent] == [sft, cpt, base]
    for version, parent in ((sft, cpt), (dpo, sft)):
        meta = json.loads((Path(version.adapter_path) / "meta.json").read_text())
        assert meta["started_from"]["init"] == "parent_adapter"
        assert meta["started_from"]["parent_adapter"] == str(Path(parent.adapter_path).resolve())
    assert run_lineage(dpo.training_run) == (
        f"continued the adapter of {sft.served_name} (reference: the parent)"
    )
    assert run_lineage(sft.training_run) == f"continued the adapter of {cpt.served_name}"

    assert_serving(served, project, dpo)
    model_version_rollback(version=sft)
    assert_serving(served, project, sft)
    dpo.refresh_from_db()
    assert dpo.status == ModelVersion.Status.RETIRED
    model_version_rollback(version=base)
    assert_serving(served, project, base)

    timings["served chain"] = time.monotonic() - started
    print("\n[path time] " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
