import json
import re

import pytest

from tests.training.engine import snapshots as S
from training.engine.data import (
    DataError,
    chunk_token_ids,
    load_snapshot,
    tokenize_and_chunk,
)
from training.engine.documents import clean_document, clean_documents


def test_preference_snapshot_loads_per_split_without_provenance(tmp_path):
    S.write_snapshot(tmp_path, S.preference_rows(8), S.preference_rows(3, offset=8))
    snap = load_snapshot(tmp_path, "dpo")
    assert set(snap.splits) == {"train", "validation"}  # test.jsonl is empty
    assert snap.splits["train"].column_names == ["prompt", "chosen", "rejected"]
    assert snap.stats.rows == {"train": 8, "validation": 3, "test": 0}
    assert "prompt_id" in snap.stats.columns["train"]
    assert snap.stats.conversational
    assert snap.row_format == "preference"
    assert len(snap.manifest_sha256) == 64
    assert snap.manifest["format"] == "preference"


def test_missing_column_error_names_file_and_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "rejected"} for r in S.preference_rows(6)]
    S.write_snapshot(tmp_path, rows)
    with pytest.raises(DataError) as err:
        load_snapshot(tmp_path, "dpo")
    assert str(tmp_path / "train.jsonl") in str(err.value)
    assert "missing column(s): rejected" in str(err.value)


def test_held_out_split_in_another_format_is_refused(tmp_path):
    S.write_snapshot(tmp_path, S.sft_rows(4), [{"prompt": "a", "completion": "b"}])
    with pytest.raises(DataError, match=re.escape("validation.jsonl: rows are in the prompt_")):
        load_snapshot(tmp_path, "sft")


def test_missing_manifest_and_empty_train_are_clear(tmp_path):
    with pytest.raises(DataError, match=re.escape("manifest.json is missing")):
        load_snapshot(tmp_path, "sft")
    S.write_snapshot(tmp_path, [])
    with pytest.raises(DataError, match=re.escape("train.jsonl is missing or empty")):
        load_snapshot(tmp_path, "sft")


def test_empty_values_are_reported_with_their_row(tmp_path):
    rows = S.preference_rows(4)
    rows[2]["chosen"] = []
    S.write_snapshot(tmp_path, rows)
    with pytest.raises(DataError, match=re.escape("train.jsonl: row 3 has an empty 'chosen'")):
        load_snapshot(tmp_path, "dpo")


def test_kto_counts_labels(tmp_path):
    S.write_snapshot(tmp_path, S.kto_rows(5, 3), fmt="kto")
    snap = load_snapshot(tmp_path, "kto")
    assert (snap.stats.desirable, snap.stats.undesirable) == (5, 3)
    assert snap.splits["train"].column_names == ["prompt", "completion", "label"]


def test_rlhf_accepts_prompts_only(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "prompts", "rows": {}}))
    (tmp_path / "train.jsonl").write_text(
        "\n".join(json.dumps({"prompt": S.user(t), "prompt_id": i}) for i, t in enumerate("abc"))
    )
    snap = load_snapshot(tmp_path, "rlhf")
    assert snap.row_format == "prompt_only"
    assert snap.splits["train"].column_names == ["prompt"]


def test_clean_document_normalises_whitespace():
    text = "  Hello \t  world \r\n\r\n\r\n\n  second\u00a0 line  \n"
    assert clean_document(text) == "Hello world\n\nsecond line"


def test_clean_documents_drops_empties_and_exact_duplicates():
    kept, empty, duplicates = clean_documents(["a  b", " ", None, "a b", "c", "a b\n"])
    assert kept == ["a b", "c"]
    assert (empty, duplicates) == (2, 2)


def test_chunk_token_ids_joins_with_eos_and_keeps_a_usable_tail():
    chunks = chunk_token_ids([[1, 2, 3], [4, 5]], chunk_length=3, eos_id=0)
    assert chunks == [[1, 2, 3], [0, 4, 5]]  # the tail [0] has no next-token target: dropped
    assert chunk_token_ids([[1, 2], [3]], chunk_length=3, eos_id=0) == [[1, 2, 0], [3, 0]]


def test_cpt_snapshot_is_cleaned_and_chunked(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    S.write_snapshot(tmp_path, S.cpt_rows(4), fmt="text")
    snap = load_snapshot(tmp_path, "cpt")
    assert snap.stats.rows["train"] == 4
    assert (snap.stats.empty_removed, snap.stats.duplicates_removed) == (1, 1)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    chunks = tokenize_and_chunk(snap.splits["train"], tokenizer, chunk_length=16)
    lengths = [len(ids) for ids in chunks["input_ids"]]
    assert all(n == 16 for n in lengths[:-1]) and 2 <= lengths[-1] <= 16
    flat = [t for ids in chunks["input_ids"] for t in ids]
    assert flat.count(tokenizer.eos_token_id) == 4  # one separator per document


def test_kto_labels_must_be_booleans(tmp_path):
    rows = S.kto_rows(2, 2)
    for row in rows:
        row["label"] = "yes" if row["label"] else "no"
    S.write_snapshot(tmp_path, rows, fmt="kto")
    with pytest.raises(DataError, match=re.escape("row 1 has label 'yes'; use true or false")):
        load_snapshot(tmp_path, "kto")


def test_cpt_empty_strings_are_dropped_not_refused(tmp_path):
    S.write_snapshot(tmp_path, [{"text": ""}, {"text": "a doc"}, {"text": " a  doc "}], fmt="text")
    snap = load_snapshot(tmp_path, "cpt")
    assert list(snap.splits["train"]["text"]) == ["a doc"]
    assert (snap.stats.empty_removed, snap.stats.duplicates_removed) == (1, 1)
