"""Small exports are usable: train is never left empty, empty or tiny splits are warned about
(manifest, admin, API, CLI), and a first tiny round may hold nothing out."""

import hashlib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from labeling.exports.snapshot import split_warnings
from labeling.exports.split import PromptSplitter, split_of, split_position
from labeling.models import DatasetExport
from labeling.services.exports import dataset_export_run
from tests.api.conftest import client_for
from tests.factories import PromptFactory
from tests.labeling.exports.builders import completions, exported, rank, rows_of

pytestmark = pytest.mark.django_db

DEFAULT = (0.9, 0.05, 0.05)


def old_split_of(prompt_id: int, *, seed: int, ratios: tuple[float, float, float]) -> str:
    """The split by prompt before train was kept from being empty (commit 65b6c81), copied."""
    digest = hashlib.blake2b(f"{seed}:{prompt_id}".encode(), digest_size=8).digest()
    position = int.from_bytes(digest, "big") / 2**64
    names = ("train", "validation", "test")
    cumulative = 0.0
    for name, ratio in zip(names, ratios, strict=True):
        cumulative += ratio
        if position < cumulative:
            return name
    return next(name for name, ratio in reversed(list(zip(names, ratios, strict=True))) if ratio)


def ranked_prompts(project, annotators, count: int) -> list[int]:
    """`count` prompts, each ranked by every annotator (three preference rows per prompt)."""
    ids = []
    for n in range(count):
        prompt = PromptFactory(project=project, instruction=f"Question {n}: what is {n} + {n}?")
        good, fair, poor = completions(prompt, f"{2 * n}.", f"About {2 * n}.", "No idea.")
        for annotator in annotators:
            rank(prompt, annotator, [good], [fair], [poor])
        ids.append(prompt.pk)
    return ids


def all_held_out_seed(ids: list[int], ratios=DEFAULT) -> int:
    """A seed by which the old split put none of these prompts in train."""
    return next(
        seed
        for seed in range(200_000)
        if all(old_split_of(i, seed=seed, ratios=ratios) != "train" for i in ids)
    )


def codes(export: DatasetExport) -> list[str]:
    return [warning["code"] for warning in export.manifest["warnings"]]


@pytest.fixture
def tiny(project, annotators):
    """A first small round: nine judgements over three prompts."""
    return ranked_prompts(project, annotators, 3)


# --- the split ----------------------------------------------------------------------------------


def test_three_prompts_the_seed_holds_out_still_give_train_a_prompt(project, tiny):
    seed = all_held_out_seed(tiny)

    export = exported(project, "preference", seed=seed)

    nearest = min(tiny, key=lambda pk: split_position(pk, seed=seed))
    assert export.rows_train == 3 and export.rows_total == 9
    assert {row["prompt_id"] for row in rows_of(export, "train")} == {nearest}
    assert export.manifest["prompts"]["moved_to_train"] == [nearest]
    assert {"train_filled", "train_tiny"} <= set(codes(export))
    again = exported(project, "preference", seed=seed)
    assert again.content_hash == export.content_hash  # still seeded and deterministic


@pytest.mark.parametrize("ratios", [DEFAULT, (0.6, 0.2, 0.2), (0.5, 0.5, 0.0)])
def test_a_larger_export_is_split_exactly_as_before(project, annotators, ratios):
    ids = ranked_prompts(project, annotators[:1], 40)

    for seed in (0, 1, 7, 12345):
        export = exported(project, "preference", seed=seed, split=ratios)
        for split in ("train", "validation", "test"):
            in_file = list(dict.fromkeys(row["prompt_id"] for row in rows_of(export, split)))
            assert in_file == [i for i in ids if old_split_of(i, seed=seed, ratios=ratios) == split]
        assert export.manifest["prompts"]["moved_to_train"] == []
        assert "train_filled" not in codes(export)


def test_the_splitter_writes_what_the_old_split_wrote_in_the_same_order():
    for seed in range(5):
        for ratios in (DEFAULT, (0.1, 0.6, 0.3), (0.02, 0.98, 0.0)):
            written = []
            splitter = PromptSplitter(
                seed=seed,
                ratios=ratios,
                write=lambda split, row, written=written: written.append((split, row)),
            )
            for prompt_id in range(1, 400):
                splitter.add(prompt_id, [{"p": prompt_id}, {"p": -prompt_id}])
            splitter.finish()
            expected = [
                (old_split_of(i, seed=seed, ratios=ratios), row)
                for i in range(1, 400)
                for row in ({"p": i}, {"p": -i})
            ]
            assert any(split == "train" for split, _ in written)
            for name in ("train", "validation", "test"):
                assert [r for s, r in written if s == name] == [r for s, r in expected if s == name]


def test_a_single_prompt_goes_to_train():
    seed = next(s for s in range(1000) if split_of(5, seed=s, ratios=DEFAULT) != "train")
    written = []
    splitter = PromptSplitter(seed=seed, ratios=DEFAULT, write=lambda s, r: written.append(s))
    splitter.add(5, [{"x": 1}])
    splitter.finish()
    assert written == ["train"] and splitter.moved_to_train == [5]


# --- warnings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "ratios", "expected"),
    [
        ({"train": 0, "validation": 0, "test": 0}, DEFAULT, ["export_empty"]),
        ({"train": 5, "validation": 3, "test": 2}, DEFAULT, ["train_tiny"]),
        ({"train": 40, "validation": 1, "test": 0}, DEFAULT, ["validation_tiny", "test_empty"]),
        ({"train": 40, "validation": 0, "test": 3}, DEFAULT, ["validation_empty"]),
        ({"train": 40, "validation": 0, "test": 0}, DEFAULT, ["held_out_empty"]),
        ({"train": 9, "validation": 0, "test": 0}, (1.0, 0.0, 0.0), ["no_held_out"]),
        ({"train": 40, "validation": 4, "test": 0}, (0.9, 0.1, 0.0), []),
    ],
)
def test_empty_and_tiny_splits_are_warned_about(rows, ratios, expected):
    warnings = split_warnings(rows, ratios=ratios, moved_to_train=[])
    assert [warning["code"] for warning in warnings] == expected
    assert all(warning["message"] for warning in warnings)


def test_the_export_page_and_list_show_the_warnings(client, project, tiny, project_admin):
    export = exported(project, "preference", seed=all_held_out_seed(tiny))
    client.force_login(project_admin)

    page = client.get(reverse("admin:labeling_datasetexport_change", args=[export.pk]))
    listed = client.get(reverse("admin:labeling_datasetexport_changelist"))

    text = page.content.decode()
    assert page.status_code == 200
    assert "Train has only 3 rows (under 8)" in text and "train_tiny" in text
    assert 'class="warning"' in text  # an admin message at the top of the page
    assert "train_filled" in listed.content.decode()


# --- no held-out rows, from every entry point ---------------------------------------------------


def test_the_admin_form_exports_with_no_held_out_rows(client, project, tiny, project_admin):
    client.force_login(project_admin)
    form = {
        "action": "export_dataset",
        "_selected_action": [project.pk],
        "apply": "1",
        "format": "preference",
        "rule": "all",
        "split": "0.9,0.05,0.05",  # prefilled: the box decides
        "seed": "0",
        "conversational": "on",
        "no_held_out": "on",
    }

    response = client.post(reverse("admin:labeling_project_changelist"), form, follow=True)

    export = DatasetExport.objects.get()
    assert export.split == (1.0, 0.0, 0.0)
    assert "holds nothing out" in response.content.decode()
    export = dataset_export_run(export=export)
    assert export.rows_train == 9 and export.rows_validation == export.rows_test == 0
    manifest = json.loads((Path(export.path) / "manifest.json").read_text())
    assert manifest["held_out"] is False and "no_held_out" in codes(export)
    page = client.get(reverse("admin:labeling_datasetexport_change", args=[export.pk]))
    assert "Nothing is held out" in page.content.decode()


def test_the_admin_form_refuses_no_held_out_with_a_split_that_holds_out(
    client, project, tiny, project_admin
):
    client.force_login(project_admin)
    form = {
        "action": "export_dataset",
        "_selected_action": [project.pk],
        "apply": "1",
        "format": "preference",
        "rule": "all",
        "split": "0.8,0.2,0",
        "seed": "0",
        "no_held_out": "on",
    }

    response = client.post(reverse("admin:labeling_project_changelist"), form)

    assert response.status_code == 200 and not DatasetExport.objects.exists()
    assert "holds rows out: use 1,0,0" in response.content.decode()


def test_the_api_takes_no_held_out_rows(project, tiny, project_admin):
    client = client_for(project_admin)
    url = reverse("api:exports", args=["shop"])

    by_option = client.post(url, {"format": "preference", "held_out": False}, format="json")
    by_split = client.post(url, {"format": "preference", "split": [1, 0, 0]}, format="json")
    refused = client.post(
        url, {"format": "preference", "held_out": False, "split": [0.5, 0.5, 0]}, format="json"
    )
    default = client.post(url, {"format": "preference"}, format="json")

    assert by_option.status_code == by_split.status_code == 201
    for answer in (by_option, by_split):
        assert [answer.json()[f"split_{s}"] for s in ("train", "validation", "test")] == [1, 0, 0]
    assert refused.status_code == 400 and "split" in refused.json()
    assert default.json()["split_train"] == 0.9
    export = DatasetExport.objects.get(pk=by_option.json()["id"])
    dataset_export_run(export=export)
    followed = client.get(reverse("api:export", args=[export.pk])).json()
    assert followed["held_out"] is False and "no_held_out" in {
        w["code"] for w in followed["warnings"]
    }


@pytest.mark.parametrize("arguments", [["--no-held-out"], ["--split=1,0,0"]])
def test_the_command_exports_with_no_held_out_rows(project, tiny, tmp_path, arguments):
    out = StringIO()

    call_command(
        "export_dataset",
        "--project=shop",
        "--format=preference",
        f"--out={tmp_path / 'round1'}",
        *arguments,
        stdout=out,
    )

    export = DatasetExport.objects.get()
    assert export.split == (1.0, 0.0, 0.0) and export.rows_train == 9
    manifest = json.loads((tmp_path / "round1" / "manifest.json").read_text())
    assert manifest["held_out"] is False
    assert "Warning (no_held_out): Nothing is held out" in out.getvalue()
