import json

import pytest

from labeling.exports.dedupe import Deduplicator
from labeling.exports.scrub import ScrubCounts, scrub
from labeling.exports.snapshot import SnapshotWriter, atomic_directory, file_sha256
from labeling.exports.split import parse_split_ratios, split_of


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("Write to kim.minsu+work@example.co.kr today", "Write to [EMAIL] today", "email"),
        ("주민등록번호는 900101-1234567 입니다", "주민등록번호는 [KR_RRN] 입니다", "kr_rrn"),
        ("Card 4111 1111 1111 1111 expires soon", "Card [CARD_NUMBER] expires soon", "card_number"),
        ("Host 192.168.0.12 is down", "Host [IP_ADDRESS] is down", "ip_address"),
        ("Host 2001:db8:85a3::8a2e:370:7334 is up", "Host [IP_ADDRESS] is up", "ip_address"),
        ("전화 010-1234-5678 주세요", "전화 [PHONE] 주세요", "phone"),
        ("Call +1 (555) 123-4567 now", "Call [PHONE] now", "phone"),
    ],
)
def test_scrub_replaces_personal_data_with_typed_placeholders(text, expected, kind):
    counts = ScrubCounts()
    assert scrub(text, counts) == expected
    assert counts.as_dict()[kind] == 1


@pytest.mark.parametrize(
    "text",
    [
        "Python 3.11.7 was released in 2023-12-04 at 12:30:45.",
        "Order number 1234 5678 9012 3456 fails the Luhn check.",  # not a card, not a phone
        "주민번호 형식이 아닌 991301-1234567",  # month 13
        "The ratio is 3.14 and the version 1.2.3.4.5.",
    ],
)
def test_scrub_leaves_ordinary_numbers_alone(text):
    counts = ScrubCounts()
    assert scrub(text, counts) == text
    assert sum(counts.as_dict().values()) == 0


def test_exact_and_near_duplicates_are_counted_separately():
    dedupe = Deduplicator()
    assert not dedupe.seen("Write a short poem about the sea and the wind at night.")
    assert dedupe.seen("write a  SHORT poem about the sea and the wind at night.")  # exact
    assert dedupe.seen("Write a short poem about the sea and the wind at night!")  # near
    assert not dedupe.seen("Explain how photosynthesis works to a ten year old.")
    assert dedupe.counts.as_dict() == {"exact": 1, "near": 1}


def test_split_is_deterministic_disjoint_and_close_to_the_ratios():
    ratios = parse_split_ratios("0.8,0.1,0.1")
    first = {prompt_id: split_of(prompt_id, seed=7, ratios=ratios) for prompt_id in range(5000)}
    again = {prompt_id: split_of(prompt_id, seed=7, ratios=ratios) for prompt_id in range(5000)}
    assert first == again
    shares = {name: list(first.values()).count(name) / 5000 for name in ("train", "validation")}
    assert 0.77 < shares["train"] < 0.83
    assert 0.08 < shares["validation"] < 0.12
    other_seed = {p: split_of(p, seed=8, ratios=ratios) for p in range(5000)}
    assert other_seed != first


@pytest.mark.parametrize("text", ["0.9,0.1", "0.5,0.5,0.5", "a,b,c", "1.2,-0.1,-0.1"])
def test_bad_split_ratios_are_refused_with_a_clear_message(text):
    with pytest.raises(ValueError, match="split"):
        parse_split_ratios(text)


def test_snapshot_manifest_hashes_match_the_files(tmp_path):
    final = tmp_path / "exports" / "7"
    with atomic_directory(final) as directory:
        writer = SnapshotWriter(directory)
        writer.write("train", {"instruction": "안녕하세요 👋", "output": "مرحبا"})
        writer.write("test", {"instruction": "b", "output": "c"})
        manifest = writer.finish({"format": "alpaca"})
    assert manifest["rows"] == {"train": 1, "validation": 0, "test": 1}
    on_disk = json.loads((final / "manifest.json").read_text())
    for name, entry in on_disk["files"].items():
        assert entry["sha256"] == file_sha256(final / name)
    row = json.loads((final / "train.jsonl").read_text(encoding="utf-8"))
    assert row == {"instruction": "안녕하세요 👋", "output": "مرحبا"}


def test_an_interrupted_snapshot_leaves_nothing_behind(tmp_path):
    final = tmp_path / "exports" / "8"
    with pytest.raises(RuntimeError), atomic_directory(final) as directory:
        SnapshotWriter(directory).write("train", {"a": 1})
        raise RuntimeError("worker killed")
    assert not final.exists()
    assert list((tmp_path / "exports").iterdir()) == []


def test_snapshots_are_immutable(tmp_path):
    final = tmp_path / "9"
    final.mkdir()
    with pytest.raises(FileExistsError), atomic_directory(final):
        pass
