"""One rendering of a prompt: what the exports write, what the engine trains and evaluates on,
and what generation sends agree for the same prompt, through the functions each path calls."""

import pytest

from labeling.services.generation import completion_jobs
from tests.factories import ProjectFactory, PromptFactory, UserFactory
from tests.fixtures.base_models import template_less_copy
from tests.labeling.exports.builders import completions, demonstration, exported, rank, rows_of
from training.engine import recipe
from training.engine.data import load_snapshot
from training.engine.evaluation import sft_references
from training.engine.prompts import (
    CHAT,
    TEXT,
    TextTemplate,
    model_prompt_style,
    prompt_messages,
    prompt_style_for,
    prompt_text,
    user_content,
)
from training.selectors.versions import live_version
from training.services.run_checks import training_config_build

CASES = [
    pytest.param("Describe the otter in one sentence.", "", id="without-input"),
    pytest.param("Sum up the catalogue entry.", "The otter sleeps afloat.", id="with-input"),
]


# --- the functions alone -----------------------------------------------------------------------


def test_the_user_turn_is_the_instruction_then_the_input_after_a_blank_line():
    assert user_content("Say hi.") == "Say hi."
    assert user_content("Sum up.", "Long text.") == "Sum up.\n\nLong text."
    assert prompt_messages("Sum up.", "Long text.") == [
        {"role": "user", "content": "Sum up.\n\nLong text."}
    ]


def test_a_system_message_comes_first_when_given():
    assert prompt_messages("Say hi.", system="Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi."},
    ]


def test_the_text_template_prompt_is_the_text_before_the_output():
    template = TextTemplate("Q: {instruction}\n\n{input}\n\nA: {output}\n\nEnd.")
    assert template.prompt(instruction="Sum up.", input="") == "Q: Sum up.\n\nA: "
    assert template.split(instruction="Sum up.", input="Text.") == (
        "Q: Sum up.\n\nText.\n\nA: ",
        "\n\nEnd.",
    )


# --- the three paths agree ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _exports_dir(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def _project_with_one_prompt(instruction: str, input_text: str):
    """A project whose one prompt has a demonstration and a ranking of two completions."""
    project = ProjectFactory()
    prompt = PromptFactory(project=project, instruction=instruction, input=input_text)
    good, poor = completions(prompt, "A fine otter answer.", "Bananas.")
    demonstration(prompt, "Otters float on their backs.")
    rank(prompt, UserFactory(), [good], [poor])
    return project, prompt


@pytest.mark.django_db
@pytest.mark.parametrize(("instruction", "input_text"), CASES)
def test_chat_exports_training_and_generation_render_the_same_prompt(
    tokenizer, instruction, input_text
):
    project, prompt = _project_with_one_prompt(instruction, input_text)
    messages_export = exported(project, "messages", split=(1.0, 0.0, 0.0))
    preference_export = exported(project, "preference", split=(1.0, 0.0, 0.0))

    exported_prompt = rows_of(messages_export)[0]["messages"][:-1]
    sft_prompts, _ = sft_references(load_snapshot(messages_export.path, "sft").splits["train"])
    dpo_prompt = load_snapshot(preference_export.path, "dpo").splits["train"][0]["prompt"]
    (job,) = completion_jobs(project=project, prompts=[prompt], live=live_version(project))

    expected = [
        {"role": "user", "content": instruction + (f"\n\n{input_text}" if input_text else "")}
    ]
    assert exported_prompt == sft_prompts[0] == dpo_prompt == job.messages == expected
    # What vLLM renders from the chat request is what the engine scores and generates from.
    served = tokenizer.apply_chat_template(job.messages, tokenize=False, add_generation_prompt=True)
    assert prompt_text(tokenizer, sft_prompts[0]) == prompt_text(tokenizer, dpo_prompt) == served


@pytest.mark.django_db
@pytest.mark.parametrize(("instruction", "input_text"), CASES)
def test_plain_text_exports_and_training_render_the_projects_template(
    tokenizer, instruction, input_text
):
    project, _ = _project_with_one_prompt(instruction, input_text)
    text_export = exported(project, "text", split=(1.0, 0.0, 0.0))
    plain_export = exported(
        project, "preference", options={"conversational": False}, split=(1.0, 0.0, 0.0)
    )

    expected = TextTemplate(project.text_template).prompt(instruction=instruction, input=input_text)
    assert rows_of(text_export)[0]["text"].startswith(expected + "Otters float on their backs.")
    dpo_prompt = load_snapshot(plain_export.path, "dpo").splits["train"][0]["prompt"]
    assert dpo_prompt == rows_of(plain_export)[0]["prompt"] == expected
    assert prompt_text(tokenizer, dpo_prompt) == expected
    assert (input_text in expected) and ("{input}" not in expected)


# --- text style: a base model without a chat template ------------------------------------------

# A template with text after {output}: it ends the trained answer and stops generation.
SUFFIXED = "Question: {instruction}\n\nContext: {input}\n\nAnswer: {output}\n\n### End"


def test_a_model_directory_without_a_chat_template_is_text_style(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text('{"eos_token": "<|im_end|>"}')
    assert model_prompt_style(tmp_path) == TEXT
    (tmp_path / "tokenizer_config.json").write_text('{"chat_template": "{{ messages }}"}')
    assert model_prompt_style(tmp_path) == CHAT
    (tmp_path / "tokenizer_config.json").write_text("{}")
    (tmp_path / "chat_template.jinja").write_text("{{ messages }}")
    assert model_prompt_style(tmp_path) == CHAT
    # A model served elsewhere (no tokenizer here) says nothing: the setting decides.
    assert model_prompt_style(tmp_path / "absent") == CHAT
    assert prompt_style_for("text", tmp_path / "absent") == TEXT
    with pytest.raises(ValueError, match="not one of auto, chat, text"):
        prompt_style_for("plain", tmp_path)


def test_the_bundled_model_is_chat_style_and_its_template_less_copy_is_text(
    tiny_model_dir, tmp_path
):
    assert model_prompt_style(tiny_model_dir) == CHAT
    assert model_prompt_style(template_less_copy(tiny_model_dir, tmp_path / "base")) == TEXT


@pytest.mark.django_db
@pytest.mark.parametrize(("instruction", "input_text"), CASES)
def test_text_style_exports_training_and_generation_render_the_same_prompt(
    settings, tokenizer, instruction, input_text
):
    settings.BASE_MODEL_PROMPT_STYLE = "text"
    project, prompt = _project_with_one_prompt(instruction, input_text)
    project.text_template = SUFFIXED
    project.save(update_fields=["text_template"])
    split = {"split": (1.0, 0.0, 0.0)}
    alpaca_export = exported(project, "alpaca", **split)
    text_export = exported(project, "text", **split)
    plain_export = exported(project, "preference", options={"conversational": False}, **split)

    config = training_config_build(method="sft", base_version=live_version(project), overrides={})
    template = recipe.text_template(config)
    sft_row = load_snapshot(alpaca_export.path, "sft", text_template=template).splits["train"][0]
    dpo_row = load_snapshot(plain_export.path, "dpo", text_template=template).splits["train"][0]
    (job,) = completion_jobs(project=project, prompts=[prompt], live=live_version(project))

    expected = "Question: " + instruction + (f"\n\nContext: {input_text}" if input_text else "")
    expected += "\n\nAnswer: "
    assert config.prompt_style == TEXT and config.text_template == SUFFIXED
    assert sft_row["prompt"] == dpo_row["prompt"] == job.prompt_text == expected
    assert job.messages is None and job.sampling.stop == ("\n\n### End",)
    # The trained answer ends the way the template does; generation stops there.
    assert sft_row["completion"] == "Otters float on their backs.\n\n### End"
    assert rows_of(text_export)[0]["text"] == expected + sft_row["completion"]
    assert prompt_text(tokenizer, sft_row["prompt"]) == expected


@pytest.mark.django_db
def test_chat_style_jobs_stay_chat_requests_without_a_stop(settings):
    settings.BASE_MODEL_PROMPT_STYLE = "chat"
    project, prompt = _project_with_one_prompt("Say hi.", "")
    (job,) = completion_jobs(project=project, prompts=[prompt], live=live_version(project))
    assert job.prompt_text is None and job.sampling.stop == ()
    assert job.messages == [{"role": "user", "content": "Say hi."}]
