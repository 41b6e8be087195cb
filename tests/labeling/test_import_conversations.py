"""Conversations imported whole: messages (OpenAI/TRL), ShareGPT and HH-RLHF keep every turn;
a conversation that is not one is refused by line and field, and nothing is written."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labeling.models import Demonstration, Prompt
from tests.factories import ProjectFactory
from tests.labeling.test_import_prompts import import_error, import_file, write_jsonl

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

THREE_TURNS = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "And 3 + 3?"},
    {"role": "assistant", "content": "6"},
    {"role": "user", "content": "Now double it."},
    {"role": "assistant", "content": "12"},
]


@pytest.fixture
def project():
    return ProjectFactory(slug="demo")


def test_messages_keep_every_turn_and_the_last_answer_becomes_the_reference(project, tmp_path):
    open_ended = [*THREE_TURNS[:-1]]  # ends with the user's turn: nothing to take as reference
    path = write_jsonl(
        tmp_path / "chat.jsonl",
        [{"messages": THREE_TURNS}, {"messages": [{"role": "user", "content": "Hello?"}]}],
    )
    out, _ = import_file(path)
    assert "Imported 2 prompts (1 reference demonstration)" in out

    prompt = Prompt.objects.get(instruction="Now double it.")
    assert prompt.history == THREE_TURNS[:5]  # system, then two exchanges
    assert prompt.turns == 3
    assert prompt.demonstrations.get().output == "12"
    assert "more_messages" not in prompt.metadata and "system" not in prompt.metadata
    single = Prompt.objects.get(instruction="Hello?")
    assert single.history == [] and single.turns == 1

    # The same last turn after another conversation is another prompt, not a duplicate;
    # the same conversation again is one.
    other = [{"role": "user", "content": "Pick a number."}, {"role": "assistant", "content": "6"}]
    path = write_jsonl(
        tmp_path / "more.jsonl",
        [
            {"messages": open_ended},
            {"messages": [*other, {"role": "user", "content": "Now double it."}]},
        ],
    )
    out, _ = import_file(path)
    assert "Imported 1 prompt" in out and "1 duplicate skipped" in out
    assert Prompt.objects.filter(instruction="Now double it.").count() == 2


def test_sharegpt_conversations_map_their_roles(project, tmp_path):
    record = {
        "conversations": [
            {"from": "system", "value": "Answer in Korean."},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "안녕하세요"},
            {"from": "human", "value": "How are you?"},
            {"from": "gpt", "value": "잘 지내요."},
        ],
        "id": "abc",
    }
    path = tmp_path / "share.json"
    path.write_text(json.dumps([record], ensure_ascii=False), "utf-8")
    out, _ = import_file(path)
    assert "Imported 1 prompt (1 reference demonstration)" in out
    prompt = Prompt.objects.get()
    assert prompt.instruction == "How are you?"
    assert prompt.history == [
        {"role": "system", "content": "Answer in Korean."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "안녕하세요"},
    ]
    assert prompt.demonstrations.get().output == "잘 지내요."
    assert prompt.metadata == {"id": "abc"}


def test_hh_rlhf_becomes_a_history_and_a_preference(project, tmp_path):
    history = (
        "\n\nHuman: I need a gift idea.\n\nAssistant: For whom?\n\nHuman: My sister, she runs."
    )
    record = {
        "chosen": history + "\n\nAssistant: Running socks or a headlamp.",
        "rejected": history + "\n\nAssistant: Buy her anything.",
    }
    path = write_jsonl(tmp_path / "hh.jsonl", [record])
    out, _ = import_file(path)
    assert "Imported 1 prompt (1 reference demonstration)" in out
    prompt = Prompt.objects.get()
    assert prompt.instruction == "My sister, she runs."
    assert prompt.history == [
        {"role": "user", "content": "I need a gift idea."},
        {"role": "assistant", "content": "For whom?"},
    ]
    demonstration = prompt.demonstrations.get()
    assert demonstration.origin == Demonstration.Origin.IMPORTED
    assert demonstration.output == "Running socks or a headlamp."
    assert demonstration.rejected_output == "Buy her anything."


def test_parquet_columns_name_the_conversation_shape(project, tmp_path):
    path = tmp_path / "chat.parquet"
    pq.write_table(pa.Table.from_pylist([{"messages": THREE_TURNS}]), path)
    out, _ = import_file(path)
    assert "Imported 1 prompt (1 reference demonstration)" in out
    assert Prompt.objects.get().history == THREE_TURNS[:5]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (
            [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}],
            "line 1: messages[1].role: 'bot' is not a role",
        ),
        (
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            "line 1: messages[1]: two user turns in a row",
        ),
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": "  "}],
            "line 1: messages[1].content: empty",
        ),
        (
            [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}],
            "line 1: messages[0]: the conversation opens with assistant",
        ),
        (
            [
                {"role": "user", "content": "a"},
                {"role": "system", "content": "b"},
                {"role": "user", "content": "c"},
            ],
            "line 1: messages[1]: a system turn may only open the conversation",
        ),
        ([], "line 1: messages: expected a list of {role, content}, got an empty list"),
    ],
)
def test_a_conversation_that_is_not_one_is_refused_by_line_and_field(
    project, tmp_path, messages, expected
):
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [{"messages": messages}, {"messages": [{"role": "user", "content": "fine"}]}],
    )
    error = import_error(path)
    assert "Nothing imported: 1 invalid row" in error
    assert expected in error
    assert not Prompt.objects.exists()


def test_bad_sharegpt_and_hh_rows_name_their_fields(project, tmp_path):
    path = write_jsonl(
        tmp_path / "share.jsonl",
        [{"conversations": [{"from": "human", "value": "a"}, {"from": "robot", "value": "b"}]}],
    )
    assert "line 1: conversations[1].from: 'robot' is not a role" in import_error(path)

    path = write_jsonl(
        tmp_path / "hh.jsonl",
        [
            {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: z\n\nAssistant: c"},
            {"chosen": "\n\nHuman: a", "rejected": "\n\nHuman: a\n\nAssistant: c"},
        ],
    )
    error = import_error(path)
    assert "line 1: rejected: its conversation before the last answer differs" in error
    assert "line 2: chosen: expected alternating" in error
    assert not Prompt.objects.exists()
