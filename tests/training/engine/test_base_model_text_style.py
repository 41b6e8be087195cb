"""A base model without a chat template trains on the project's text template: SFT on an
alpaca export and DPO on a plain preference export, on a template-less copy of the bundled
model, with the loss on the answer only; conversational rows are refused at the click."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from labeling.services.prompts import prompt_create
from tests.factories import ProjectFactory, UserFactory
from tests.fixtures.base_models import template_less_copy
from tests.labeling.exports.builders import completions, demonstration, exported, rank
from training.engine import dpo, sft
from training.engine.prompts import TEXT, TextTemplate
from training.selectors.versions import live_version
from training.services.run_checks import run_request_check, training_config_build

pytestmark = pytest.mark.django_db

TEMPLATE = "Question: {instruction}\n\nContext: {input}\n\nAnswer:\n{output}\n\n### End"
SUFFIX = "\n\n### End"
TOPICS = ["otters", "tea", "owls", "rivers", "kites"]
FAST = {"max_steps": 2, "batch_size": 2, "max_length": 128, "eval": False}


@pytest.fixture(scope="module")
def text_model_dir(base_model_dir, tmp_path_factory):
    """The bundled model without its chat template: a base model as the app sees it."""
    return template_less_copy(base_model_dir[0], tmp_path_factory.mktemp("base") / "smollm2-text")


@pytest.fixture
def project(settings, tmp_path, text_model_dir):
    """A project served by the template-less model, with demonstrations and rankings."""
    settings.BASE_MODEL_DIR = text_model_dir
    settings.BASE_MODEL_PROMPT_STYLE = "auto"  # read from the model directory
    settings.EXPORTS_DIR = tmp_path / "exports"
    project = ProjectFactory()
    project.text_template = TEMPLATE
    project.save(update_fields=["text_template"])
    annotator = UserFactory()
    for i, topic in enumerate(TOPICS):
        prompt = prompt_create(
            project=project,
            instruction=f"Say something kind about {topic}.",
            input=f"{topic} are small." if i % 2 else "",
        )
        demonstration(prompt, f"{topic.capitalize()} are lovely.")
        good, poor = completions(prompt, f"Sure! {topic} are lovely.", f"no. zzz {topic}")
        rank(prompt, annotator, [good], [poor])
    return project


@pytest.fixture
def trainers(monkeypatch):
    """The TRL trainers the engine builds, recorded as they are made (they run as usual)."""
    made = []
    for module in (sft, dpo):
        name = "SFTTrainer" if module is sft else "DPOTrainer"
        real = getattr(module, name)

        class Recorded(real):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                made.append(self)

        monkeypatch.setattr(module, name, Recorded)
    return made


def _expected_prompts(project) -> dict[str, str]:
    """{template prompt: demonstration} of every prompt, rendered as generation renders it."""
    template = TextTemplate(project.text_template)
    return {
        template.prompt(instruction=p.instruction, input=p.input): p.demonstrations.get().output
        for p in project.prompts.all()
    }


def _config(project, method: str, out):
    config = training_config_build(
        method=method, base_version=live_version(project), overrides=FAST, output_dir=str(out)
    )
    assert config.prompt_style == TEXT and config.text_template == TEMPLATE
    return config


def _assert_loadable_adapter(text_model_dir, result):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(text_model_dir))
    PeftModel.from_pretrained(base, result.output_dir)  # raises when it does not fit
    meta = json.loads((Path(result.output_dir) / "meta.json").read_text(encoding="utf-8"))
    assert meta["config"]["prompt_style"] == TEXT


def test_sft_on_an_alpaca_export_trains_the_answer_after_the_template_prompt(
    project, trainers, text_model_dir, tmp_path
):
    export = exported(project, "alpaca", split=(1.0, 0.0, 0.0))
    config = _config(project, "sft", tmp_path / "sft")

    result = sft.train(config, export.path)

    (trainer,) = trainers
    tokenizer = trainer.processing_class
    expected = _expected_prompts(project)
    rows = list(trainer.train_dataset)
    assert len(rows) == len(TOPICS)
    seen = set()
    for row in rows:
        ids, labels = row["input_ids"], row["labels"]
        prompt_len = next(i for i, label in enumerate(labels) if label != -100)
        prompt = tokenizer.decode(ids[:prompt_len])
        assert prompt.startswith("Question: Say something kind about") and prompt in expected
        assert ids[:prompt_len] == tokenizer(prompt)["input_ids"]
        # The loss covers the answer, the template's ending and EOS, and nothing before.
        assert labels == [-100] * prompt_len + ids[prompt_len:]
        assert tokenizer.decode(ids[prompt_len:]) == expected[prompt] + SUFFIX + "<|im_end|>"
        seen.add(prompt)
    assert seen == set(expected)
    assert result.steps == 2
    _assert_loadable_adapter(text_model_dir, result)


def test_dpo_on_a_plain_preference_export_scores_answers_after_the_template_prompt(
    project, trainers, text_model_dir, tmp_path
):
    export = exported(
        project, "preference", options={"conversational": False}, split=(1.0, 0.0, 0.0)
    )
    config = _config(project, "dpo", tmp_path / "dpo")

    result = dpo.train(config, export.path)

    (trainer,) = trainers
    tokenizer = trainer.processing_class
    expected = _expected_prompts(project)
    rows = list(trainer.train_dataset)
    assert len(rows) == len(TOPICS)
    for row in rows:
        prompt = tokenizer.decode(row["prompt_ids"])
        assert prompt in expected and prompt.startswith("Question: Say something kind about")
        chosen, rejected = (
            tokenizer.decode(row["chosen_ids"]),
            tokenizer.decode(row["rejected_ids"]),
        )
        assert chosen.startswith("Sure! ") and chosen.endswith(SUFFIX + "<|im_end|>")
        assert rejected.startswith("no. zzz ") and rejected.endswith(SUFFIX + "<|im_end|>")
    assert result.steps == 2
    _assert_loadable_adapter(text_model_dir, result)


@pytest.mark.parametrize(
    ("format", "options"),
    [("messages", {}), ("preference", {"conversational": True})],
    ids=["messages", "conversational-preference"],
)
def test_conversational_exports_are_refused_at_the_click_for_a_text_style_model(
    project, format, options
):
    export = exported(project, format, options=options, split=(1.0, 0.0, 0.0))
    method = "sft" if format == "messages" else "dpo"
    with pytest.raises(ValidationError) as refused:
        run_request_check(
            project=project,
            method=method,
            publish="manual",
            directory=Path(export.path),
            export=export,
            base_version=None,
            overrides=FAST,
        )
    message = " ".join(refused.value.message_dict["export"])
    assert "no chat template" in message and "conversational off" in message


def test_a_text_style_model_gets_plain_preference_and_kto_exports_unless_told(project, settings):
    """The export's `conversational` default follows the served model: a text-style model
    cannot train on messages, so its preference and KTO exports are plain unless asked."""
    from labeling.admin.exports import DatasetExportForm
    from labeling.services.exports import dataset_export_create

    for format in ("preference", "kto"):
        plain = dataset_export_create(project=project, format=format)
        assert plain.options["conversational"] is False
    asked = dataset_export_create(
        project=project, format="preference", options={"conversational": True}
    )
    assert asked.options["conversational"] is True
    assert DatasetExportForm(project=project).fields["conversational"].initial is False
    exported_plain = exported(project, "preference", split=(1.0, 0.0, 0.0))
    assert exported_plain.manifest["conversational"] is False

    settings.BASE_MODEL_PROMPT_STYLE = "chat"  # a chat model: messages, as before
    assert dataset_export_create(project=project, format="kto").options["conversational"]
    assert DatasetExportForm(project=project).fields["conversational"].initial is True


@pytest.mark.parametrize(
    ("template", "english"),
    [
        ("Q: {input}", "The text template needs {instruction} and {output}."),
        ("Q: {instruction}", "The text template needs {output}."),
        (
            "{instruction} {output} {output}",
            "The text template uses {output} more than once: the text before it is the prompt.",
        ),
    ],
)
def test_a_project_template_that_cannot_render_is_refused_by_the_engines_rule(template, english):
    """The project's field and the engine's config check use one rule; the admin reads it in
    their language."""
    from django.utils import translation

    from training.engine.prompts import template_problems

    project = ProjectFactory.build(text_template=template)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        project.full_clean(exclude=["slug", "name"])
    assert refused.value.message_dict["text_template"] == [english]
    assert str(template_problems(template)[0]) == english[0].lower() + english[1:-1]
    with translation.override("ko"), pytest.raises(ValidationError) as korean:
        project.full_clean(exclude=["slug", "name"])
    message = korean.value.message_dict["text_template"][0]
    assert message != english and "{output}" in message
