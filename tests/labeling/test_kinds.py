"""The task kinds are described once (labeling/kinds/): every TaskKind has its module, form,
template and script handler, and the sets other code reads are derived from them."""

import re
from pathlib import Path

import pytest
from django.template.loader import get_template

from labeling.forms.workspace import ContinueForm, DemonstrationForm, JudgementForm, TaskForm
from labeling.kinds import (
    KINDS,
    JudgementKind,
    Records,
    completion_kinds,
    demonstration_kinds,
    gold_kinds,
    judgement_kinds,
    kind_of,
    kto_kinds,
    preference_kinds,
)
from labeling.models import TaskKind

WORKSPACE_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "workspace.js"


def test_every_task_kind_has_a_kind_module_in_task_kind_order():
    assert list(KINDS) == list(TaskKind.values)
    for value, kind in KINDS.items():
        assert kind.value == value and kind_of(value) is kind
    with pytest.raises(LookupError):
        kind_of("nonsense")


@pytest.mark.parametrize("value", TaskKind.values)
def test_every_kind_has_its_form_and_templates(value):
    kind = kind_of(value)
    assert issubclass(kind.form, TaskForm)
    base = {
        Records.JUDGEMENT: JudgementForm,
        Records.DEMONSTRATION: DemonstrationForm,
        Records.PROMPT: ContinueForm,
    }[kind.records]
    assert issubclass(kind.form, base)
    get_template(kind.template)
    get_template(kind.hints_template)
    assert str(kind.badge)


def test_every_kind_has_a_handler_in_the_workspace_script():
    script = WORKSPACE_JS.read_text()
    handlers = script[script.index("const KIND_HANDLERS = {") :]
    handlers = handlers[: handlers.index("\n  };")]
    named = re.findall(r"^    (\w+): \{", handlers, flags=re.MULTILINE)
    assert named == list(TaskKind.values)


def test_the_derived_kind_sets():
    assert completion_kinds() == ("rank", "compare", "rate", "edit", "continue")
    assert judgement_kinds() == ("rank", "compare", "rate")
    assert demonstration_kinds() == ("write", "answer", "edit")
    assert gold_kinds() == ("rank", "compare")
    assert preference_kinds() == ("rank", "compare")
    assert kto_kinds() == ("rank", "rate")
    for value in judgement_kinds():
        kind = kind_of(value)
        assert isinstance(kind, JudgementKind) and kind.outcomes


def test_completions_needed_follows_what_a_kind_shows():
    needed = {value: kind_of(value).completions_needed(per_prompt=4) for value in KINDS}
    assert needed == {
        "write": 0,
        "answer": 0,
        "rank": 4,
        "compare": 2,
        "rate": 4,
        "edit": 4,
        "continue": 4,
    }
