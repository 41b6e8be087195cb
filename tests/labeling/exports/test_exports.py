"""Dataset exports end to end: database → snapshot files that datasets, TRL and the training
engine read."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from labeling.exports import snapshot
from labeling.exports.snapshot import file_sha256
from labeling.models import DatasetExport, Demonstration, Judgement, Role
from labeling.services.exports import dataset_export_create, dataset_export_run
from labeling.services.projects import membership_grant
from tests.factories import ProjectFactory, PromptFactory, UserFactory
from tests.labeling.exports.builders import (
    compare,
    completions,
    demonstration,
    exported,
    none_acceptable,
    rank,
    rate,
    rows_of,
    texts_of,
)

# Streaming reads use server-side cursors on PostgreSQL: the exports run there too.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

TOKENIZER_DIR = Path(django_settings.BASE_MODEL_DIR)


@pytest.fixture
def tokenizer():
    if not (TOKENIZER_DIR / "tokenizer.json").is_file():
        pytest.skip("the bundled tokenizer is not prepared (var/models)")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))


# --- every format loads where it will be used ----------------------------------------------------


@pytest.mark.parametrize(
    ("format", "columns"),
    [
        ("alpaca", {"instruction", "input", "output"}),
        ("dolly", {"instruction", "context", "response", "category"}),
        ("messages", {"messages"}),
        ("text", {"text"}),
        ("preference", {"prompt", "chosen", "rejected"}),
        ("kto", {"prompt", "completion", "label"}),
    ],
)
def test_each_format_loads_with_datasets_and_carries_provenance(mixed_project, format, columns):
    from datasets import load_dataset

    export = exported(mixed_project, format, split=(1.0, 0.0, 0.0))
    dataset = load_dataset("json", data_files=str(Path(export.path) / "train.jsonl"), split="train")

    assert len(dataset) == export.rows_train > 0
    assert columns | {"prompt_id", "sources", "annotators"} <= set(dataset.column_names)
    row = dataset[0]
    assert row["sources"] and all(":" in source for source in row["sources"])
    assert all(len(name) in (0, 16) for name in row["annotators"])  # pseudonyms, no ids
    assert "annotator1" not in json.dumps(rows_of(export))


@pytest.mark.parametrize(("format", "method"), [("messages", "sft"), ("preference", "dpo")])
def test_conversational_rows_take_the_bundled_chat_template(
    mixed_project, tokenizer, format, method
):
    from trl.data_utils import apply_chat_template, is_conversational

    from training.engine.data import load_snapshot

    export = exported(mixed_project, format, split=(1.0, 0.0, 0.0))
    loaded = load_snapshot(export.path, method)
    row = loaded.splits["train"][0]

    assert loaded.conversational and is_conversational(row)
    rendered = apply_chat_template(row, tokenizer)
    prompt = texts_of(rows_of(export)[0], "prompt" if format == "preference" else "messages")
    assert prompt.split("\n")[0] in (rendered.get("prompt") or rendered["text"])


def test_kto_rows_load_in_the_engine_and_take_the_chat_template(mixed_project, tokenizer):
    from trl.data_utils import maybe_apply_chat_template

    from training.engine.data import load_snapshot

    export = exported(mixed_project, "kto", split=(1.0, 0.0, 0.0))
    loaded = load_snapshot(export.path, "kto")

    assert loaded.stats.desirable == 12 and loaded.stats.undesirable == 6
    rendered = maybe_apply_chat_template(loaded.splits["train"][0], tokenizer)
    assert rendered["completion"].strip() and isinstance(rendered["label"], bool)


def test_plain_preference_rows_use_the_projects_text_template(mixed_project, tokenizer):
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    export = exported(
        mixed_project, "preference", options={"conversational": False}, split=(1.0, 0.0, 0.0)
    )
    row = rows_of(export)[0]

    assert not is_conversational(row)
    assert row["prompt"].endswith("### Response:\n")
    assert "### Instruction:\nDescribe the otter" in row["prompt"]
    assert maybe_apply_chat_template(row, tokenizer)["chosen"] == row["chosen"]
    assert export.manifest["conversational"] is False


def test_text_rows_feed_continued_pretraining(mixed_project):
    from training.engine.data import load_snapshot

    mixed_project.text_template = "Q: {instruction}\n\n{input}\n\nA: {output}"
    mixed_project.save()
    export = exported(mixed_project, "text", split=(1.0, 0.0, 0.0))

    texts = [row["text"] for row in rows_of(export)]
    assert "Q: Describe the otter in one sentence, please.\n\nA: Animal 0 is a" in texts[0]
    assert "Zoo catalogue." in texts[2]  # the input paragraph is there when there is an input
    assert len(load_snapshot(export.path, "cpt").splits["train"]) == len(texts)


# --- preferences ---------------------------------------------------------------------------------


def test_a_ranking_with_a_tie_gives_every_pair_across_tie_groups(project, annotators):
    prompt = PromptFactory(project=project)
    a, b, c, d = completions(prompt, "alpha", "bravo", "charlie", "delta")
    rank(prompt, annotators[0], [a], [b, c], [d])

    rows = rows_of(exported(project, "preference"))

    pairs = {(texts_of(row, "chosen"), texts_of(row, "rejected")) for row in rows}
    assert pairs == {
        ("alpha", "bravo"),
        ("alpha", "charlie"),
        ("alpha", "delta"),
        ("bravo", "delta"),
        ("charlie", "delta"),
    }
    assert rows[0]["prompt"] == [{"role": "user", "content": prompt.instruction}]
    assert rows[0]["completion_ids"] == [a.pk, b.pk] and rows[0]["model_versions"] == [0, 0]


def test_none_acceptable_and_ties_and_both_bad_give_no_pairs(project, annotators):
    prompt = PromptFactory(project=project)
    a, b = completions(prompt, "alpha", "bravo")
    none_acceptable(prompt, annotators[0], [a, b])
    compare(prompt, annotators[1], a, b, "tie")
    compare(prompt, annotators[2], a, b, "both_bad")

    export = exported(project, "preference")

    assert export.rows_total == 0


def test_a_comparison_gives_one_pair(project, annotators):
    prompt = PromptFactory(project=project)
    left, right = completions(prompt, "left answer", "right answer")
    judgement = compare(prompt, annotators[0], left, right, "b")

    (row,) = rows_of(exported(project, "preference"))

    assert (texts_of(row, "chosen"), texts_of(row, "rejected")) == ("right answer", "left answer")
    assert row["sources"] == [f"judgement:{judgement.pk}"]


def test_an_edit_gives_the_edited_text_over_the_original(project, annotators):
    prompt = PromptFactory(project=project)
    (original,) = completions(prompt, "The capital of France is Lyon.")
    edit = demonstration(
        prompt,
        "The capital of France is Paris.",
        origin=Demonstration.Origin.EDITED,
        author=annotators[0],
        source_completion=original,
    )

    (row,) = rows_of(exported(project, "preference"))

    assert texts_of(row, "chosen") == "The capital of France is Paris."
    assert texts_of(row, "rejected") == "The capital of France is Lyon."
    assert row["sources"] == [f"demonstration:{edit.pk}"]
    assert row["completion_ids"] == [original.pk]


def conflicting_prompt(project, annotators):
    """Two annotators rank 1 > 2 > 3, the third 2 > 1 > 3."""
    prompt = PromptFactory(project=project)
    one, two, three = completions(prompt, "one", "two", "three")
    rank(prompt, annotators[0], [one], [two], [three])
    rank(prompt, annotators[1], [one], [two], [three])
    rank(prompt, annotators[2], [two], [one], [three])
    return prompt


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # all: the same pair from several annotators is one row carrying all of them
        ("all", {("one", "two"), ("one", "three"), ("two", "three"), ("two", "one")}),
        ("majority", {("one", "two"), ("one", "three"), ("two", "three")}),
        ("bradley_terry", {("one", "two"), ("one", "three"), ("two", "three")}),
    ],
)
def test_rules_for_several_annotators_and_conflicts_in_the_manifest(
    project, annotators, rule, expected
):
    conflicting_prompt(project, annotators)

    export = exported(project, "preference", rule=rule)

    rows = rows_of(export)
    assert {(texts_of(row, "chosen"), texts_of(row, "rejected")) for row in rows} == expected
    assert export.manifest["rule"] == rule
    assert export.manifest["agreement"]["conflicts"] == 1
    assert export.manifest["agreement"]["mean"] == pytest.approx(8 / 9, abs=1e-4)
    if rule == "all":
        one_over_three = next(row for row in rows if texts_of(row, "chosen") == "one")
        assert len(one_over_three["annotators"]) in (2, 3)  # merged, provenance kept
        # one>two twice, one>three and two>three three times each: 5 repeats merged
        assert export.manifest["duplicates"]["rows_exact"] == 5


def test_minimum_agreement_drops_prompts_annotators_disagree_on(project, annotators):
    conflicting_prompt(project, annotators)
    agreed = PromptFactory(project=project)
    x, y = completions(agreed, "x", "y")
    compare(agreed, annotators[0], x, y, "a")
    compare(agreed, annotators[1], x, y, "a")

    export = exported(project, "preference", rule="majority", filters={"min_agreement": 0.9})

    assert {row["prompt_id"] for row in rows_of(export)} == {agreed.pk}
    assert export.manifest["agreement"]["prompts_below_minimum"] == 1


def test_filters_by_annotator_date_and_model_version(project, annotators):
    prompt = PromptFactory(project=project)
    a, b = completions(prompt, "alpha", "bravo")
    compare(prompt, annotators[0], a, b, "a")
    compare(prompt, annotators[1], a, b, "b")

    only_first = exported(project, "preference", filters={"annotators": [annotators[0].pk]})
    assert [texts_of(row, "chosen") for row in rows_of(only_first)] == ["alpha"]
    assert only_first.manifest["filters"]["annotators"] != [annotators[0].pk]  # pseudonymous
    assert exported(project, "preference", filters={"date_to": "2000-01-01"}).rows_total == 0
    with pytest.raises(ValidationError):
        dataset_export_create(project=project, format="preference", filters={"model_versions": [7]})


# --- KTO -----------------------------------------------------------------------------------------


def test_kto_rows_from_thumbs_none_acceptable_and_optionally_rankings(project, annotators):
    rated, rejected, ranked = (PromptFactory(project=project) for _ in range(3))
    up, down = completions(rated, "helpful answer", "rude answer")
    rate(rated, annotators[0], {up: "up", down: "down"})
    bad = completions(rejected, "wrong one", "wrong two")
    none_acceptable(rejected, annotators[0], bad)
    best, middle, worst = completions(ranked, "best", "middle", "worst")
    rank(ranked, annotators[0], [best], [middle], [worst])

    labels = {
        (texts_of(row, "completion"), row["label"]) for row in rows_of(exported(project, "kto"))
    }
    assert labels == {
        ("helpful answer", True),
        ("rude answer", False),
        ("wrong one", False),
        ("wrong two", False),
    }
    with_rankings = exported(project, "kto", options={"kto_from_rankings": True})
    labels = {(texts_of(row, "completion"), row["label"]) for row in rows_of(with_rankings)}
    assert {("best", True), ("worst", False)} <= labels and ("middle", True) not in labels


# --- SFT -----------------------------------------------------------------------------------------


def test_sft_rows_come_from_demonstrations_and_can_require_review(project, annotators):
    prompt = PromptFactory(project=project, instruction="Greet the customer.")
    demonstration(prompt, "Hello and welcome!", review_status="accepted", author=annotators[0])
    demonstration(prompt, "Hi.", review_status="pending", author=annotators[1])
    demonstration(prompt, "Go away.", review_status="rejected", author=annotators[2])

    everything = [row["output"] for row in rows_of(exported(project, "alpaca"))]
    reviewed = exported(project, "alpaca", options={"require_accepted": True})

    assert sorted(everything) == ["Hello and welcome!", "Hi."]
    assert [row["output"] for row in rows_of(reviewed)] == ["Hello and welcome!"]
    (row,) = rows_of(reviewed)
    assert row["origin"] == "answered" and row["instruction"] == "Greet the customer."


# --- the pipeline: splits, duplicates, personal data, manifest -----------------------------------


def test_splits_are_disjoint_by_prompt_and_follow_the_seed(project, annotators):
    for n in range(60):
        prompt = PromptFactory(project=project, instruction=f"Question {n}: what is {n} + {n}?")
        a, b, c = completions(prompt, f"{2 * n}", f"{2 * n + 1}", "no idea")
        rank(prompt, annotators[0], [a], [b], [c])

    first = exported(project, "preference", split=(0.6, 0.2, 0.2), seed=1)
    again = exported(project, "preference", split=(0.6, 0.2, 0.2), seed=1)
    other = exported(project, "preference", split=(0.6, 0.2, 0.2), seed=2)

    prompts = {
        split: {row["prompt_id"] for row in rows_of(first, split)}
        for split in ("train", "validation", "test")
    }
    assert all(prompts.values())
    assert not (prompts["train"] & prompts["validation"] or prompts["train"] & prompts["test"])
    assert not prompts["validation"] & prompts["test"]
    assert sum(map(len, prompts.values())) == 60 and first.rows_total == 180
    assert first.content_hash == again.content_hash != other.content_hash


def test_duplicate_prompts_are_dropped_and_counted(project, annotators):
    texts = [
        "Write a short poem about the sea and the wind at night.",
        "Write a short poem about the sea and the wind at night!!",  # near-duplicate
        "Explain how photosynthesis works to a ten year old child.",
    ]
    for text in texts:
        demonstration(PromptFactory(project=project, instruction=text), "An answer.")

    export = exported(project, "alpaca", split=(1.0, 0.0, 0.0))

    assert [row["instruction"] for row in rows_of(export)] == [texts[0], texts[2]]
    assert export.manifest["duplicates"]["prompts_near"] == 1
    assert export.manifest["duplicates"]["rows_dropped_with_duplicate_prompts"] == 1


def test_repeated_rows_of_a_prompt_are_merged_and_counted(project, annotators):
    prompt = PromptFactory(project=project)
    demonstration(prompt, "Same answer.", author=annotators[0])
    demonstration(prompt, "same  ANSWER.", author=annotators[1])

    export = exported(project, "messages")

    (row,) = rows_of(export)
    assert len(row["sources"]) == 2 and len(row["annotators"]) == 2
    assert export.manifest["duplicates"]["rows_exact"] == 1


def test_personal_data_is_scrubbed_from_every_text_and_counted(project, annotators):
    prompt = PromptFactory(project=project, instruction="Reply to kim@example.com about the order.")
    good, bad = completions(prompt, "Call me at 010-1234-5678.", "Card 4111 1111 1111 1111.")
    rank(prompt, annotators[0], [good], [bad])

    export = exported(project, "preference")

    text = json.dumps(rows_of(export), ensure_ascii=False)
    assert "kim@example.com" not in text and "010-1234-5678" not in text
    assert "[EMAIL]" in text and "[PHONE]" in text and "[CARD_NUMBER]" in text
    assert export.manifest["personal_data"]["email"] == 1
    assert export.manifest["personal_data"]["card_number"] == 1


def test_an_export_never_meets_a_snapshot_left_by_another_database(mixed_project):
    """After a database reset ids start again at 1, so a snapshot another database wrote for
    its export of the same id (earlier versions named directories by id) must not block this
    one, nor be touched by it."""
    export = dataset_export_create(project=mixed_project, format="preference")
    left_behind = django_settings.EXPORTS_DIR / "shop" / str(export.pk)
    left_behind.mkdir(parents=True)
    (left_behind / "manifest.json").write_text("{}")

    export = dataset_export_run(export=export)

    assert export.status == DatasetExport.Status.DONE, export.error
    assert Path(export.path).name == str(export.uid)
    assert (Path(export.path) / "manifest.json").read_text() != "{}"
    assert (left_behind / "manifest.json").read_text() == "{}"


def test_the_manifest_records_the_export_and_hashes_every_file(mixed_project):
    export = exported(mixed_project, "preference", seed=7)

    directory = Path(export.path)
    assert directory == django_settings.EXPORTS_DIR / "shop" / str(export.uid)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest == export.manifest
    assert set(manifest["files"]) == {"train.jsonl", "validation.jsonl", "test.jsonl"}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == file_sha256(directory / name)
    assert manifest["content_sha256"] == export.content_hash
    assert manifest["format"] == "preference" and manifest["split"]["seed"] == 7
    assert manifest["rows"]["train"] == export.rows_train
    assert export.code_version and manifest["code_version"] == export.code_version
    assert {"duplicates", "personal_data", "agreement", "created_at"} <= set(manifest)


def test_parquet_files_on_request(mixed_project):
    import pyarrow.parquet as pq

    export = exported(mixed_project, "kto", parquet=True, split=(1.0, 0.0, 0.0))

    table = pq.read_table(Path(export.path) / "train.parquet")
    assert table.num_rows == export.rows_train and "label" in table.column_names


def test_an_interrupted_export_leaves_no_snapshot_and_is_marked_failed(mixed_project, monkeypatch):
    original = snapshot.SnapshotWriter.write
    written = []

    def write_then_die(self, split, row):
        if len(written) == 3:
            raise OSError("disk full")
        written.append(row)
        original(self, split, row)

    monkeypatch.setattr(snapshot.SnapshotWriter, "write", write_then_die)
    export = dataset_export_create(project=mixed_project, format="preference")

    export = dataset_export_run(export=export)

    assert export.status == DatasetExport.Status.FAILED
    assert "disk full" in export.error and export.path == ""
    assert list((django_settings.EXPORTS_DIR / "shop").iterdir()) == []
    assert dataset_export_run(export=export).status == DatasetExport.Status.FAILED  # no rerun


def test_bad_requests_are_refused_with_the_field_named(project):
    for arguments, field in [
        ({"format": "csv"}, "format"),
        ({"format": "kto", "rule": "loudest"}, "rule"),
        ({"format": "kto", "split": (0.5, 0.5, 0.5)}, "split"),
        ({"format": "kto", "filters": {"colour": "red"}}, "filters"),
        ({"format": "kto", "filters": {"min_agreement": 2}}, "filters"),
    ]:
        with pytest.raises(ValidationError) as refused:
            dataset_export_create(project=project, **arguments)
        assert field in refused.value.message_dict


# --- entry points --------------------------------------------------------------------------------


def test_the_command_exports_and_copies_the_snapshot(mixed_project, tmp_path):
    out = StringIO()
    call_command(
        "export_dataset",
        "--project=shop",
        "--format=preference",
        f"--out={tmp_path / 'dpo'}",
        "--split=0.5,0.25,0.25",
        "--rule=majority",
        "--seed=3",
        stdout=out,
    )

    export = DatasetExport.objects.get()
    assert (export.rule, export.seed, export.split) == ("majority", 3, (0.5, 0.25, 0.25))
    copied = sorted(path.name for path in (tmp_path / "dpo").iterdir())
    assert copied == ["manifest.json", "test.jsonl", "train.jsonl", "validation.jsonl"]
    assert (tmp_path / "dpo" / "train.jsonl").read_bytes() == (
        Path(export.path) / "train.jsonl"
    ).read_bytes()
    printed = out.getvalue()
    assert f"{export.rows_total} rows" in printed and export.path in printed


def test_the_command_refuses_an_unknown_project_and_a_full_directory(mixed_project, tmp_path):
    with pytest.raises(CommandError, match="No project"):
        call_command("export_dataset", "--project=nope", "--format=kto", f"--out={tmp_path}")
    (tmp_path / "something").write_text("x")
    with pytest.raises(CommandError, match="not an empty directory"):
        call_command("export_dataset", "--project=shop", "--format=kto", f"--out={tmp_path}")


def test_the_admin_action_shows_the_export_form(client, project, project_admin):
    client.force_login(project_admin)

    response = client.post(
        reverse("admin:labeling_project_changelist"),
        {"action": "export_dataset", "_selected_action": [project.pk]},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Export dataset of" in page and 'name="rule"' in page and 'name="seed"' in page


def test_the_admin_action_queues_the_export_for_the_worker(
    client, mixed_project, project_admin, settings, django_capture_on_commit_callbacks
):
    from django_tasks import default_task_backend

    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "generation", "training"],
        }
    }
    client.force_login(project_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:labeling_project_changelist"),
            {
                "action": "export_dataset",
                "_selected_action": [mixed_project.pk],
                "apply": "1",
                "format": "kto",
                "rule": "majority",
                "split": "0.8,0.1,0.1",
                "seed": "5",
                "conversational": "on",
            },
        )

    export = DatasetExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:labeling_datasetexport_change", args=[export.pk])
    assert (export.format, export.rule, export.seed, export.created_by) == (
        "kto",
        "majority",
        5,
        project_admin,
    )
    (queued,) = default_task_backend.results
    assert queued.task.name == "dataset_export_task" and queued.args == [export.pk]


def test_the_export_page_shows_figures_and_serves_its_files_to_admins_only(
    client, mixed_project, project_admin
):
    export = exported(mixed_project, "preference")
    client.force_login(project_admin)

    page = client.get(reverse("admin:labeling_datasetexport_change", args=[export.pk]))
    download = client.get(reverse("labeling:export_file", args=[export.pk, "train.jsonl"]))

    assert page.status_code == 200
    assert "Duplicates" in page.content.decode() and "train.jsonl" in page.content.decode()
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == (Path(export.path) / "train.jsonl").read_bytes()
    traversal = reverse("labeling:export_file", args=[export.pk, "..%2Fx"])
    assert client.get(traversal).status_code == 404

    outsider = UserFactory(username="other-admin")
    membership_grant(project=ProjectFactory(), user=outsider, role=Role.ADMIN)
    client.force_login(outsider)
    assert (
        client.get(reverse("labeling:export_file", args=[export.pk, "train.jsonl"])).status_code
        == 404
    )


def test_the_background_task_runs_the_export(mixed_project):
    from labeling.tasks import dataset_export_task

    export = dataset_export_create(project=mixed_project, format="messages")

    result = dataset_export_task.call(export.pk)

    export.refresh_from_db()
    assert result["status"] == "done" and export.status == DatasetExport.Status.DONE
    assert Path(export.path, "manifest.json").is_file()


# --- the demo ------------------------------------------------------------------------------------


def test_seed_demo_adds_synthetic_judgements_that_export(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    out = StringIO()

    call_command("seed_demo", "--judgements", "90", stdout=out)
    call_command("seed_demo", "--judgements", "30", stdout=StringIO())

    judgements = Judgement.objects.filter(prompt__project__slug="demo")
    assert judgements.count() == 120
    assert "90 synthetic judgements added" in out.getvalue()
    assert set(judgements.values_list("kind", flat=True)) == {"rank", "compare", "rate"}
    assert all(
        completion.is_synthetic and completion.model_version.number == 0
        for judgement in judgements.filter(kind="rank")
        for completion in judgement.prompt.completions.all()
    )
    per_task = judgements.values_list("assignment__item_id", "annotator_id")
    assert len(set(per_task)) == 120  # nobody judged a task twice
    demo = judgements.first().prompt.project
    assert exported(demo, "preference", rule="bradley_terry").rows_total > 0
    assert exported(demo, "kto").rows_total > 0


def test_the_manifest_carries_krippendorffs_alpha_over_overlapping_judgements(project, annotators):
    for _ in range(3):
        prompt = PromptFactory(project=project)
        best, middle, worst = completions(prompt, "best", "middle", "worst")
        rank(prompt, annotators[0], [best], [middle], [worst])
        rank(prompt, annotators[1], [best], [middle], [worst])
    lonely = PromptFactory(project=project)
    a, b, c = completions(lonely, "x", "y", "z")
    rank(lonely, annotators[2], [c], [b], [a])  # one annotator only: not an agreement unit

    alpha = exported(project, "preference").manifest["krippendorff_alpha"]["ranking"]

    assert alpha["alpha"] == pytest.approx(1.0)  # the two annotators agree exactly
    assert alpha["units"] == 9  # 3 prompts x 3 completions valued by both
    assert alpha["annotators"] == 2
