"""What the admin shows of a training run while it trains and after."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from core.texts import text_shown
from training.engine import lineage
from training.engine.config import ConfigError, load_config
from training.engine.gate import GATE_METRIC_LABELS, GATE_METRIC_METHODS
from training.engine.publish import read_meta
from training.models import TrainingRun

CHART_WIDTH = 320
CHART_HEIGHT = 90
SHOWN_METRICS = (
    "rewards/accuracies",
    "rewards/margins",
    "accuracy",
    "margin",
    "kl",
    "reward",
    "mean_token_accuracy",
    "eval_loss",
    "grad_norm",
    "learning_rate",
)


# The held-out figures scored for both the new model and its parent (eval_X, eval_parent_X),
# shown side by side: (X, as gate_metric names it; whether higher is better).
COMPARED_FIGURES = (("loss", False), ("rouge_l", True), ("bleu", True))


@dataclass(frozen=True)
class ParentComparison:
    """One held-out figure of the new model beside its parent's on the same rows or prompts."""

    label: str
    new: float | None
    parent: float | None
    higher_is_better: bool
    gate: bool  # the figure the better-than-parent gate reads (the run's gate_metric)


@dataclass
class RunProgress:
    run: TrainingRun
    step: int
    total_steps: int
    percent: int
    loss: float | None
    metrics: list[tuple[str, float]]
    elapsed_s: float | None
    remaining_s: float | None
    chart_points: str
    loss_range: tuple[float, float] | None
    polling: bool
    log_tail: str
    lineage: str = ""
    events: int = 0
    phases: list[str] = field(default_factory=list)
    comparison: list[ParentComparison] = field(default_factory=list)
    gate: GateShown | None = None


@dataclass(frozen=True)
class GateShown:
    """The publish gate's verdict and outcome (TrainingRun.gate) in the reader's language."""

    verdict: str
    reason: str
    outcome: str


def gate_shown(gate: dict | None) -> GateShown | None:
    """A run's stored gate sentences, translated; a gate stored before its sentences had
    templates shows its English text."""
    if not gate:
        return None
    return GateShown(
        verdict=_(gate["verdict"]) if gate.get("verdict") else "",
        reason=text_shown(gate.get("reason_text") or gate.get("reason", "")),
        outcome=text_shown(gate.get("outcome_text") or gate.get("outcome", "")),
    )


def run_progress(run: TrainingRun) -> RunProgress:
    history = run.history or []
    losses = [(e.get("step", 0), e["loss"]) for e in history if e.get("loss") is not None]
    points, loss_range = loss_chart(losses)
    return RunProgress(
        run=run,
        step=run.step,
        total_steps=run.total_steps,
        percent=round(100 * run.step / run.total_steps) if run.total_steps else 0,
        loss=run.loss,
        metrics=[(k, run.metrics[k]) for k in SHOWN_METRICS if k in (run.metrics or {})],
        elapsed_s=_elapsed(run),
        remaining_s=_remaining(run),
        chart_points=points,
        loss_range=loss_range,
        polling=run.is_active,
        log_tail="\n".join((run.log or "").splitlines()[-20:]),
        lineage=run_lineage(run),
        events=len(history),
        phases=sorted({e.get("phase", "train") for e in history}),
        comparison=parent_comparison(run),
        gate=gate_shown(run.gate),
    )


def gate_metric_of(run: TrainingRun) -> str:
    """The run's `gate_metric` (checked when the run was created; "loss" if unreadable now)."""
    try:
        return load_config(None, run.method, run.config or {}).gate_metric
    except ConfigError:
        return "loss"


def parent_comparison(run: TrainingRun) -> list[ParentComparison]:
    """The held-out loss, ROUGE-L and BLEU of the new model and of its parent, for each figure
    the run scored (a NaN was stored as None and shows as a dash)."""
    metrics = run.metrics or {}
    gate = gate_metric_of(run) if run.method in GATE_METRIC_METHODS else None
    rows = []
    for metric, higher in COMPARED_FIGURES:
        new_key, parent_key = f"eval_{metric}", f"eval_parent_{metric}"
        if new_key not in metrics or parent_key not in metrics:
            continue
        rows.append(
            ParentComparison(
                label=_(GATE_METRIC_LABELS[metric]),
                new=_figure(metrics.get(new_key)),
                parent=_figure(metrics.get(parent_key)),
                higher_is_better=higher,
                gate=metric == gate,
            )
        )
    return rows


def _figure(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def run_lineage(run: TrainingRun) -> str:
    """What the run started from: as its result's meta.json records it once there is one,
    before that what its configuration will make it start from."""
    parent = run.base_version
    name = parent.served_name
    if not parent.is_adapter:
        return _("a fresh adapter on the base model %(name)s") % {"name": name}
    version = run.result_version
    if version is not None:
        record = read_meta(version.adapter_path).get("started_from")
        return _started_from_text(record or {}, name)
    try:
        init_from_parent = load_config(None, run.method, run.config or {}).init_from_parent
    except ConfigError:
        init_from_parent = True
    if init_from_parent:
        return _("continues the adapter of %(name)s") % {"name": name}
    return _("a fresh adapter on the base model (%(name)s is the parent)") % {"name": name}


def _started_from_text(record: dict, parent: str) -> str:
    init = record.get("init")
    values = {"name": parent}
    if init == lineage.FROM_PARENT_ADAPTER:
        text = _("continued the adapter of %(name)s") % values
    elif init == lineage.FROM_PARENT_MERGED:
        text = _("full fine-tune of %(name)s's adapter merged into the base model") % values
    else:
        return (
            _("a fresh adapter on the base model (%(name)s is the parent it is compared with)")
            % values
        )
    if record.get("reference") == "parent":
        text += " " + _("(reference: the parent)")
    return text


def loss_chart(losses: list[tuple[int, float]]) -> tuple[str, tuple[float, float] | None]:
    """SVG polyline points for the losses in order, scaled into the chart box."""
    if not losses:
        return "", None
    values = [loss for _, loss in losses]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    last = max(len(values) - 1, 1)
    points = " ".join(
        f"{i * CHART_WIDTH / last:.1f},{CHART_HEIGHT - (v - low) / span * CHART_HEIGHT:.1f}"
        for i, v in enumerate(values)
    )
    return points, (low, high)


def _elapsed(run: TrainingRun) -> float | None:
    if run.started_at is None:
        return None
    end = run.finished_at or timezone.now()
    return max(0.0, (end - run.started_at).total_seconds())


def _remaining(run: TrainingRun) -> float | None:
    if run.status != TrainingRun.Status.RUNNING or not run.history:
        return None
    return run.history[-1].get("remaining_s")
