"""The publish gate's sentences in the reader's language. The Django-free engine writes them in
English as templates (training.engine.texts.Text); the run page shows them through gettext,
so an admin who reads Korean reads the verdict, its reason and the outcome in Korean, and the
English shown is exactly the engine's."""

import html
import re

import pytest
from django.urls import reverse
from django.utils import translation

from core.texts import text_shown
from tests.training import test_runs
from tests.training.test_publish_policy import finished_run
from training.engine.gate import LABELS, better_than_parent
from training.engine.prompts import conversation_problems
from training.services.gate import training_run_gate_apply

project, admin_client = test_runs.project, test_runs.admin_client
HANGUL = re.compile(r"[\uac00-\ud7a3]")

# Metrics that lead the gate down each of its branches.
BRANCHES = {
    "dpo better": ("dpo", {"eval_vs_parent_accuracy": 0.75, "eval_vs_parent_margin": 0.4}),
    "dpo not better": ("dpo", {"eval_vs_parent_accuracy": 0.25, "eval_vs_parent_margin": -0.5}),
    "kto": ("kto", {"eval_vs_parent_label_accuracy": 0.6, "eval_rows": 10}),
    "rlhf": ("rlhf", {"eval_win_rate": 0.4}),
    "sft lower loss": ("sft", {"eval_loss": 1.25, "eval_parent_loss": 1.5}),
    "sft higher loss": ("sft", {"eval_loss": 1.75, "eval_parent_loss": 1.5}),
    "sft no comparison": ("sft", {}),
    "reward": ("reward", {}),
}


@pytest.mark.parametrize("branch", BRANCHES)
def test_each_gate_reason_is_the_engines_english_and_has_korean(branch):
    method, metrics = BRANCHES[branch]
    verdict = better_than_parent(method, metrics)
    stored = verdict.to_dict()["reason_text"]  # as TrainingRun.gate keeps it (JSON)
    with translation.override("en"):
        assert text_shown(stored) == verdict.reason
    with translation.override("ko"):
        korean = text_shown(stored)
    assert korean != verdict.reason and HANGUL.search(korean), korean
    for name, value in stored["params"].items():  # the values survive the translation
        if isinstance(value, str) and "{" + name in stored["template"]:
            assert value in korean


@pytest.mark.parametrize("metric", ["rouge_l", "bleu"])
def test_the_overlap_gate_reason_has_korean(metric):
    metrics = {f"eval_{metric}": 0.4, f"eval_parent_{metric}": 0.3, "eval_generations": 12}
    verdict = better_than_parent("sft", metrics, gate_metric=metric)
    with translation.override("ko"):
        korean = text_shown(verdict.reason_text)
    assert HANGUL.search(korean) and "12" in korean and "0.4" in korean


def test_every_verdict_label_and_conversation_problem_has_korean():
    problems = [
        *conversation_problems(["assistant", "user"], complete=True),
        *conversation_problems(["user", "user"], complete=True),
        *conversation_problems(["user", "system"], complete=True),
        *conversation_problems(["user", "critic"], complete=True),
        *conversation_problems(["user"], complete=False),
        *conversation_problems(["system"], complete=True),
    ]
    assert len(problems) >= 6
    with translation.override("ko"):
        shown = [text_shown(problem) for _, problem in problems]
        labels = [translation.gettext(label) for label in LABELS.values()]
    assert all(HANGUL.search(text) for text in shown + labels), shown + labels
    assert any("'critic'" in text for text in shown)


@pytest.mark.django_db
def test_the_run_page_shows_the_gate_in_the_readers_language(project, tmp_path, admin_client):
    run = finished_run(project, tmp_path, publish="if_better")
    run.result_version.metrics = {"eval_vs_parent_accuracy": 0.25, "eval_vs_parent_margin": -0.5}
    run.result_version.save(update_fields=["metrics"])

    class Log:
        def note(self, line):
            self.line = line

        def flush(self, *, force=False):
            pass

    with translation.override("ko"):  # the worker's language does not decide the page's
        run = training_run_gate_apply(run=run, reporter=Log())
    assert run.gate["verdict"] == "not better"
    english = run.gate["outcome"]
    assert english.startswith(f"{run.result_version.served_name} stays a candidate: not better")

    url = reverse("training:run_progress", args=[run.pk])
    page = admin_client.get(url, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    assert english in page.content.decode()
    korean = admin_client.get(url, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="ko")
    text = html.unescape(korean.content.decode())
    with translation.override("ko"):
        verdict, outcome = translation.gettext("not better"), text_shown(run.gate["outcome_text"])
    assert verdict in text and outcome in text
    assert "stays a candidate" not in text and "held-out pairs" not in text
    assert run.result_version.served_name in outcome and "25%" in outcome


def test_a_format_refusal_names_the_methods_in_the_readers_language():
    from training.engine.checks import export_format_problem
    from training.engine.schema import METHOD_LABELS

    problem = export_format_problem("sft", "preference")
    with translation.override("en"):
        assert text_shown(problem.to_dict()) == str(problem)
        assert "Supervised fine-tuning trains on alpaca" in str(problem)
    with translation.override("ko"):
        korean = text_shown(problem.to_dict())
        labels = [translation.gettext(METHOD_LABELS[m]) for m in ("sft", "reward", "orpo")]
    assert "Supervised fine-tuning" not in korean and "Reward model" not in korean
    assert all(label in korean for label in labels), (labels, korean)
