"""A succeeded run's publish policy: keep the candidate, publish it, or publish it only if it
beats its parent version on the held-out rows (the verdict is training.engine.gate's).

The decision and its reasons are stored on the run (`TrainingRun.gate`) for the admin page.
Publishing goes through training.services.versions, outside any transaction; a server that
refuses the adapter leaves the run succeeded, the version a candidate and the live one serving.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

from django.utils.translation import gettext_noop

from training.engine.gate import Verdict, better_than_parent
from training.engine.texts import Text
from training.models import TrainingRun
from training.selectors.runs import gate_metric_of
from training.selectors.versions import live_version
from training.services.versions import PublishError, model_version_publish

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000
# The held-out figures of the comparison with the parent, shown beside the verdict.
PARENT_FIGURES = (
    "eval_vs_parent_",
    "eval_parent_",
    "eval_loss",
    "eval_rouge_l",
    "eval_bleu",
    "eval_generations",
    "eval_win_rate",
    "eval_pairs",
    "eval_rows",
)


class Reporter(Protocol):
    """Where the outcome is logged: the run's progress reporter (training.services.runs)."""

    def note(self, line: str) -> None: ...

    def flush(self, *, force: bool = False) -> None: ...


def training_run_gate_apply(*, run: TrainingRun, reporter: Reporter) -> TrainingRun:
    """After success: the gate's verdict, then publish the candidate if the policy says so."""
    version = run.result_version
    if run.status != TrainingRun.Status.SUCCEEDED or version is None:
        return run
    verdict = better_than_parent(run.method, version.metrics, gate_metric=gate_metric_of(run))
    go, outcome = publish_decision(run, verdict)
    # The gate's sentences are stored in English (`reason`, `outcome`, for the log and the
    # API) and as templates (`reason_text`, `outcome_text`) that the run page shows in the
    # reader's language (training.selectors.runs.gate_shown).
    gate = {
        "policy": run.publish,
        **verdict.to_dict(),
        "parent_version": run.base_version.served_name,
        "figures": parent_figures(version.metrics),
        "published": False,
        "error": "",
    }
    if go:
        try:
            model_version_publish(version=version)
            gate["published"] = True
        except Exception as exc:  # PublishError above all; the run has succeeded regardless
            if not isinstance(exc, PublishError):
                logger.exception("publishing %s after run %s failed", version.served_name, run.pk)
            gate["error"] = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            outcome = Text(
                gettext_noop("{name} could not be published and stays a candidate: {error}"),
                {"name": version.served_name, "error": str(exc)[:MAX_ERROR_CHARS]},
            )
    gate["outcome"] = str(outcome)
    gate["outcome_text"] = outcome.to_dict()
    reporter.note(f"publish policy {run.publish}: {outcome}")
    reporter.flush(force=True)
    TrainingRun.objects.filter(pk=run.pk).update(gate=gate)
    run.refresh_from_db()
    return run


def publish_decision(run: TrainingRun, verdict: Verdict) -> tuple[bool, Text]:
    """(publish?, the sentence the admin reads) for a succeeded run and its gate verdict.

    if_better compares with the run's parent only, so it publishes only while that parent is
    still the live version: a candidate better than v1 says nothing about a newer live v2.
    """
    values = {
        "name": run.result_version.served_name,
        "parent": run.base_version.served_name,
        "reason": verdict.reason_text or Text(verdict.reason),
    }

    def said(template: str, **more: str) -> Text:
        return Text(template, {**values, **more})

    if not verdict.applicable:
        return False, said(
            gettext_noop("{name} stays a candidate: {reason}, so it is never published")
        )
    if run.publish == TrainingRun.Publish.MANUAL:
        return False, said(
            gettext_noop("{name} stays a candidate (publish by hand); vs {parent}: {reason}")
        )
    if run.publish == TrainingRun.Publish.ALWAYS:
        return True, said(
            gettext_noop("{name} is live (published on success); vs {parent}: {reason}")
        )
    if verdict.better is None:
        return False, said(
            gettext_noop("{name} stays a candidate: the gate cannot decide: {reason}")
        )
    if not verdict.better:
        return False, said(
            gettext_noop("{name} stays a candidate: not better than {parent}: {reason}")
        )
    live = live_version(run.project)
    if live is not None and live.pk != run.base_version_id:
        return False, said(
            gettext_noop(
                "{name} stays a candidate: better than {parent}, but {live} is live now and "
                "was not compared: {reason}"
            ),
            live=live.served_name,
        )
    return True, said(gettext_noop("{name} is live: better than {parent}: {reason}"))


def parent_figures(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite held-out figures of the comparison with the parent (JSON has no NaN)."""
    return {
        k: v
        for k, v in metrics.items()
        if k.startswith(PARENT_FIGURES) and isinstance(v, int | float) and math.isfinite(v)
    }
