"""`manage.py import_prompts`: what a person importing a file sees, and what lands in the DB."""

import json
from io import StringIO

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from labeling.models import Demonstration, Prompt
from labeling.services.prompt_import import BATCH_SIZE
from tests.factories import ProjectFactory, PromptFactory

# All-or-nothing imports and the unique constraint: they run on PostgreSQL too.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Korean (composed and decomposed), emoji with ZWJ/flags/skin tone, Arabic and Hebrew with
# direction marks: none of it may be normalized, reordered or re-encoded on the way in.
KOREAN = "한국어로 요약해 주세요: 서울은 대한민국의 수도입니다."
KOREAN_DECOMPOSED = "\u1112\u1161\u11ab\u1100\u1173\u11af"  # 한글 as jamo (NFD)
EMOJI = "Family 👨‍👩‍👧‍👦, flag 🇰🇷, thumbs 👍🏽, text ☺︎"
ARABIC = "\u200fما هي عاصمة المغرب؟ الرباط."  # noqa: RUF001
HEBREW = "מה השעה? \u200eGMT+2\u200e בבקשה"


@pytest.fixture
def project():
    return ProjectFactory(slug="demo")


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def import_file(path, *options, project="demo"):
    """Run the command; returns (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command(
        "import_prompts", "--project", project, str(path), *options, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def import_error(path, *options) -> str:
    with pytest.raises(CommandError) as excinfo:
        import_file(path, *options)
    return str(excinfo.value)


def demonstration_of(prompt):
    return prompt.demonstrations.get()


# Formats


def test_alpaca_json_array_imports_prompts_and_reference_outputs(project, tmp_path):
    path = tmp_path / "alpaca.json"
    records = [
        {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
        {"instruction": "Name a prime number.", "input": "", "output": ""},
    ]
    path.write_text(json.dumps(records, indent=2), "utf-8")

    out, _ = import_file(path)

    assert out.strip() == (
        "Imported 2 prompts (1 reference demonstration); 0 duplicates skipped; 0 invalid."
    )
    translate = Prompt.objects.get(instruction="Translate to French.")
    assert (translate.project, translate.input, translate.source) == (
        project,
        "Good morning",
        "alpaca.json",
    )
    demonstration = demonstration_of(translate)
    assert demonstration.output == "Bonjour"
    assert demonstration.origin == Demonstration.Origin.IMPORTED
    assert demonstration.review_status == Demonstration.ReviewStatus.PENDING
    assert not Prompt.objects.get(instruction="Name a prime number.").demonstrations.exists()


def test_alpaca_jsonl_keeps_optional_and_unknown_fields(project, tmp_path):
    path = write_jsonl(
        tmp_path / "alpaca.jsonl",
        [
            {
                "instruction": "Summarize.",
                "input": "A long text.",
                "output": "Short.",
                "category": "summarization",
                "language": "en",
                "source": "wiki-2024",
                "id": 17,
                "tags": ["news", "short"],
            }
        ],
    )

    import_file(path)

    prompt = Prompt.objects.get()
    assert (prompt.category, prompt.language, prompt.source) == ("summarization", "en", "wiki-2024")
    assert prompt.metadata == {"id": 17, "tags": ["news", "short"]}
    assert demonstration_of(prompt).output == "Short."


def test_dolly_context_and_response_become_input_and_reference(project, tmp_path):
    path = write_jsonl(
        tmp_path / "dolly.jsonl",
        [
            {
                "instruction": "When was the tower built?",
                "context": "The tower was built in 1889.",
                "response": "In 1889.",
                "category": "closed_qa",
            },
            {
                "instruction": "Give me three fruits.",
                "context": "",
                "response": "",
                "category": "brainstorming",
            },
        ],
    )

    out, _ = import_file(path)

    assert "Imported 2 prompts (1 reference demonstration)" in out
    tower = Prompt.objects.get(category="closed_qa")
    assert tower.input == "The tower was built in 1889."
    assert demonstration_of(tower).output == "In 1889."


def test_csv_with_bom_and_multiline_cells(project, tmp_path):
    path = tmp_path / "prompts.csv"
    path.write_bytes(
        "\ufeffinstruction,context,response,category,language,notes\n"
        '"Write a haiku\nabout rain.",,"Soft rain on the roof",poetry,en,from Ana\n'
        "List colors.,,,,en,\n".encode()
    )

    out, _ = import_file(path)

    assert "Imported 2 prompts (1 reference demonstration)" in out
    haiku = Prompt.objects.get(category="poetry")
    assert haiku.instruction == "Write a haiku\nabout rain."
    assert haiku.metadata == {"notes": "from Ana"}
    assert demonstration_of(haiku).output == "Soft rain on the roof"
    assert Prompt.objects.get(instruction="List colors.").metadata == {}


def test_parquet(project, tmp_path):
    path = tmp_path / "prompts.parquet"
    table = pa.Table.from_pylist(
        [
            {
                "instruction": "Define entropy.",
                "input": None,
                "output": "A measure of disorder.",
                "rating": 5,
            },
            {"instruction": "Define energy.", "input": "physics", "output": None, "rating": 3},
        ]
    )
    pq.write_table(table, path, row_group_size=1)

    out, _ = import_file(path)

    assert "Imported 2 prompts (1 reference demonstration)" in out
    entropy = Prompt.objects.get(instruction="Define entropy.")
    assert (entropy.input, entropy.metadata) == ("", {"rating": 5})
    assert demonstration_of(entropy).output == "A measure of disorder."
    assert Prompt.objects.get(instruction="Define energy.").input == "physics"


# Detection and --format


@pytest.mark.parametrize(
    ("content", "expected_input", "expected_output"),
    [
        ('[{"instruction": "Q", "input": "I", "output": "O"}]', "I", "O"),
        ('{"instruction": "Q", "context": "I", "response": "O"}\n', "I", "O"),
        (
            '{"messages": [{"role": "user", "content": "Q"},'
            ' {"role": "assistant", "content": "O"}]}\n',
            "",
            "O",
        ),
        ("instruction,input,output\nQ,I,O\n", "I", "O"),
    ],
    ids=["alpaca-array", "dolly", "messages", "csv"],
)
def test_format_is_detected_from_content_whatever_the_extension(
    project, tmp_path, content, expected_input, expected_output
):
    path = tmp_path / "upload.txt"
    path.write_text(content, "utf-8")

    import_file(path)

    prompt = Prompt.objects.get()
    assert (prompt.instruction, prompt.input) == ("Q", expected_input)
    assert demonstration_of(prompt).output == expected_output


def test_format_option_overrides_detection(project, tmp_path):
    path = write_jsonl(tmp_path / "prompts.jsonl", [{"instruction": "Q", "output": "O"}])

    message = import_error(path, "--format", "messages")

    assert "line 1: messages: missing" in message
    assert not Prompt.objects.exists()


def test_undetectable_file_asks_for_the_format(project, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n", "utf-8")

    assert "Cannot tell the format of notes.txt" in import_error(path)


def test_empty_file_is_refused(project, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("", "utf-8")

    assert "empty.jsonl is empty" in import_error(path)


def test_unknown_project(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"instruction": "Q"}])

    with pytest.raises(CommandError, match="No project with the slug 'nope'"):
        import_file(path, project="nope")


# Unicode


UNICODE_RECORDS = [
    {"instruction": KOREAN, "input": KOREAN_DECOMPOSED, "output": EMOJI, "category": "요약 ✍️"},
    {"instruction": ARABIC, "input": HEBREW, "output": ARABIC + " " + HEBREW, "category": "번역"},
]


def _write_unicode(path, kind):
    if kind == "jsonl":
        write_jsonl(path, UNICODE_RECORDS)
    elif kind == "json":
        path.write_text(json.dumps(UNICODE_RECORDS, ensure_ascii=True), "utf-8")
    elif kind == "csv":
        lines = ["instruction,input,output,category"]
        for r in UNICODE_RECORDS:
            lines.append(
                ",".join(f'"{r[k]}"' for k in ("instruction", "input", "output", "category"))
            )
        path.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode())
    else:
        pq.write_table(pa.Table.from_pylist(UNICODE_RECORDS), path)


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv", "parquet"])
def test_korean_emoji_and_right_to_left_text_survive_exactly(project, tmp_path, kind):
    path = tmp_path / f"unicode.{kind}"
    _write_unicode(path, kind)

    import_file(path)

    for record in UNICODE_RECORDS:
        prompt = Prompt.objects.get(instruction=record["instruction"])
        assert prompt.input == record["input"]
        assert demonstration_of(prompt).output == record["output"]
        assert prompt.category == record["category"]


# Duplicates


def test_duplicates_within_the_file_and_against_the_project_are_skipped(project, tmp_path):
    PromptFactory(project=project, instruction="Say hello.")
    other_project_prompt = PromptFactory(instruction="Say goodbye.")
    path = write_jsonl(
        tmp_path / "dups.jsonl",
        [
            {"instruction": "  say   HELLO. ", "output": "hello"},  # same as the one in the DB
            {"instruction": "Say goodbye.", "output": "bye"},  # only in another project
            {"instruction": "SAY GOODBYE.", "output": "bye again"},  # repeat within the file
            {"instruction": "Say goodbye.", "input": "in Korean"},  # different input: new
        ],
    )

    out, _ = import_file(path)

    assert out.strip() == (
        "Imported 2 prompts (1 reference demonstration); 2 duplicates skipped; 0 invalid."
    )
    assert project.prompts.count() == 3
    assert project.prompts.get(instruction="Say hello.").demonstrations.count() == 0
    assert other_project_prompt.project.prompts.count() == 1


def test_repeats_are_found_across_write_batches(project, tmp_path):
    records = [{"instruction": f"Question {n}?"} for n in range(BATCH_SIZE + 5)]
    records.append({"instruction": "question 3?"})
    path = write_jsonl(tmp_path / "many.jsonl", records)

    out, _ = import_file(path)

    assert f"Imported {BATCH_SIZE + 5} prompts" in out
    assert "1 duplicate skipped" in out


def test_importing_the_same_file_twice_adds_nothing(project, tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"instruction": "A", "output": "a"}, {"instruction": "B"}]
    )
    import_file(path)

    out, _ = import_file(path)

    assert out.strip() == (
        "Imported 0 prompts (0 reference demonstrations); 2 duplicates skipped; 0 invalid."
    )
    assert Demonstration.objects.count() == 1


# Invalid input: all or nothing by default


def _mixed_jsonl(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"instruction": "Valid one.", "output": "ok"}),
        '{"instruction": "broken", ',
        json.dumps({"input": "no instruction here"}),
        json.dumps({"instruction": ["a", "list"]}),
        "",
        json.dumps({"instruction": "Too long input.", "input": "x" * 64_001}),
        json.dumps({"instruction": "Valid two.", "category": 7}),
        json.dumps({"instruction": "Valid three."}),
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_invalid_rows_abort_the_import_and_are_named(project, tmp_path):
    PromptFactory(project=project, instruction="Already here.")

    message = import_error(_mixed_jsonl(tmp_path))

    assert message.startswith("Nothing imported: 5 invalid rows in mixed.jsonl.")
    assert "line 2: invalid JSON" in message
    assert "line 3: instruction: missing" in message
    assert "line 4: instruction: expected text, got a list" in message
    assert "line 6: input: 64,001 characters; the limit is 64,000" in message
    assert "line 7: category: expected text, got a number" in message
    assert "--skip-invalid" in message
    assert list(project.prompts.values_list("instruction", flat=True)) == ["Already here."]
    assert not Demonstration.objects.exists()


def test_skip_invalid_imports_the_valid_rows_and_lists_the_others(project, tmp_path):
    out, err = import_file(_mixed_jsonl(tmp_path), "--skip-invalid")

    assert out.strip() == (
        "Imported 2 prompts (1 reference demonstration); 0 duplicates skipped; 5 invalid."
    )
    assert "line 3: instruction: missing" in err
    assert "line 7: category: expected text, got a number" in err
    assert set(Prompt.objects.values_list("instruction", flat=True)) == {
        "Valid one.",
        "Valid three.",
    }


def test_only_the_first_twenty_errors_are_listed(project, tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"instruction": ""} for _ in range(25)])

    message = import_error(path)

    assert "line 20: instruction: empty" in message
    assert "line 21:" not in message
    assert "... and 5 more" in message


def test_oversize_instruction_in_a_messages_file(project, tmp_path):
    long_turn = {"role": "user", "content": "q" * 16_001}
    path = write_jsonl(
        tmp_path / "chat.jsonl",
        [
            {"messages": [{"role": "user", "content": "ok?"}]},
            {"messages": [long_turn]},
            {"messages": "hi"},
        ],
    )

    message = import_error(path)

    assert "line 2: messages[0].content: 16,001 characters; the limit is 16,000" in message
    assert "line 3: messages: expected a list of {role, content}, got a string" in message
    assert not Prompt.objects.exists()


def test_csv_errors_name_the_physical_line_counting_the_header(project, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        'instruction,input\n"Two\nlines",x\n,empty instruction\nok,fine,extra\n', "utf-8"
    )

    message = import_error(path)

    assert "line 4: instruction: empty" in message
    assert "line 5: 3 values, but the header names 2 columns" in message


def test_json_array_errors_name_the_element_and_its_line(project, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(
        '[\n  {"instruction": "ok"},\n  {"instruction": 3},\n  {"instruction": ]\n', "utf-8"
    )

    message = import_error(path)

    assert "element [1] at line 3: instruction: expected text, got a number" in message
    assert "element [2] at line 4: invalid JSON" in message


def test_parquet_errors_name_the_row(project, tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist([{"instruction": "ok"}, {"instruction": None}]), path)

    assert "row 2: instruction: missing" in import_error(path)


def test_bytes_that_are_not_utf8_and_nul_characters_are_named_by_line_and_field(project, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(
        b'{"instruction": "ok"}\n{"instruction": "caf\xe9"}\n'
        b'{"instruction": "fine", "output": "a\\u0000b"}\n'
    )

    message = import_error(path)

    assert "line 2: instruction: is not valid UTF-8" in message
    assert "line 3: output: contains a NUL character" in message
    assert not Prompt.objects.exists()
