"""The publish gate's verdict: is a new version better than its parent on the held-out rows?

Pure: it reads the metrics a method's train() returns (evaluation.py computes the figures),
so the web app can decide without loading torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from training.engine.texts import Text, gettext_noop


@dataclass(frozen=True)
class Verdict:
    """Whether a new version beat its parent on the held-out rows, and the figures behind it.

    `better` is None when the gate cannot decide (no held-out comparison) or does not apply
    (reward models). For the relative figures, `parent` is what the parent scores against
    itself: 0.5 for an accuracy, 0 for a margin.
    """

    better: bool | None
    metric: str
    new: float | None
    parent: float | None
    reason: str  # English; `reason_text` is the same sentence, for the web app to translate
    applicable: bool = True
    reason_text: Text | None = None

    @property
    def label(self) -> str:
        if not self.applicable:
            return LABELS["not_applicable"]
        return LABELS[{True: "better", False: "not_better", None: "undecided"}[self.better]]

    def to_dict(self) -> dict[str, Any]:
        reason_text = self.reason_text or Text(self.reason)
        return {**asdict(self), "reason_text": reason_text.to_dict(), "verdict": self.label}


LABELS = {
    "better": gettext_noop("better"),
    "not_better": gettext_noop("not better"),
    "undecided": gettext_noop("undecided"),
    "not_applicable": gettext_noop("not applicable"),
}
NO_COMPARISON = Text(
    gettext_noop("no held-out rows to compare on (held-out evaluation off or its split empty)")
)
NO_GENERATIONS = Text(
    gettext_noop(
        "no held-out answers to compare (held-out generation off, or no held-out row has a "
        "prompt and a reference)"
    )
)
NOT_A_POLICY = Text(gettext_noop("a reward model is not a served policy"))

# What the gate of sft and cpt may compare (`gate_metric`): the held-out loss, or the overlap
# of greedy answers to the held-out prompts with their references.
GATE_METRICS = ("loss", "rouge_l", "bleu")
GENERATION_GATE_METRICS = ("rouge_l", "bleu")
GATE_METRIC_METHODS = ("sft", "cpt")
GATE_METRIC_LABELS = {"loss": gettext_noop("held-out loss"), "rouge_l": "ROUGE-L", "bleu": "BLEU"}


def better_than_parent(
    method: str, metrics: Mapping[str, Any], *, gate_metric: str = "loss"
) -> Verdict:
    """The publish gate's verdict from a run's metrics (the keys the methods' train() return).

    - sft, cpt: by `gate_metric`: "loss", held-out mean token loss of new and parent on the
      same rows, lower wins; "rouge_l"/"bleu" of their greedy answers, higher wins.
    - dpo, orpo, and rlhf on preference pairs: implicit reward relative to the parent
      (evaluation.preference_vs_parent); better when accuracy > 0.5 and margin > 0, i.e. the
      new model moved towards the chosen answers on most pairs and on average.
    - kto: the sign of the reward relative to the parent agrees with the label on more than
      half the held-out completions (evaluation.label_agreement).
    - rlhf on prompts only: the reward model prefers the new model's greedy answers to the
      parent's more than half the time (it is also what the policy was optimised for).
    - reward: a reward model is not a served policy; not applicable, never better.
    """
    if method == "reward":
        return _verdict(None, "", None, None, NOT_A_POLICY, applicable=False)
    if method in GATE_METRIC_METHODS:
        if gate_metric in GENERATION_GATE_METRICS:
            return _higher_overlap(metrics, gate_metric)
        return _lower_loss(metrics)
    if method == "kto":
        return _above_half(
            metrics,
            "eval_vs_parent_label_accuracy",
            gettext_noop(
                "the new model's reward relative to the parent has the sign of the label on "
                "{new:.0%} of {rows} held-out completions; better needs more than 50%"
            ),
            rows=metrics.get("eval_rows"),
        )
    if _number(metrics.get("eval_vs_parent_accuracy")) is not None:
        margin = _number(metrics.get("eval_vs_parent_margin"))
        return _above_half(
            metrics,
            "eval_vs_parent_accuracy",
            gettext_noop(
                "relative to the parent, the new model moved towards the chosen answer on "
                "{new:.0%} of {rows} held-out pairs (mean log-odds change {margin:+.3g}); "
                "better needs more than 50% and a positive change"
            ),
            rows=metrics.get("eval_pairs"),
            margin=margin,
        )
    if method == "rlhf":
        return _above_half(
            metrics,
            "eval_win_rate",
            gettext_noop(
                "the reward model prefers the new model's greedy answer to the parent's on "
                "{new:.0%} of the held-out prompts; better needs more than 50%"
            ),
        )
    return _verdict(None, "", None, None, NO_COMPARISON)


def _verdict(
    better: bool | None,
    metric: str,
    new: float | None,
    parent: float | None,
    reason: Text,
    *,
    applicable: bool = True,
) -> Verdict:
    return Verdict(better, metric, new, parent, str(reason), applicable, reason_text=reason)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def _lower_loss(metrics: Mapping[str, Any]) -> Verdict:
    new, parent = _number(metrics.get("eval_loss")), _number(metrics.get("eval_parent_loss"))
    if new is None or parent is None:
        return _verdict(None, "eval_loss", new, parent, NO_COMPARISON)
    better = new < parent
    if better:
        template = gettext_noop(
            "held-out loss {new:.4g} vs the parent's {parent:.4g} on the same rows "
            "(lower; lower is better)"
        )
    else:
        template = gettext_noop(
            "held-out loss {new:.4g} vs the parent's {parent:.4g} on the same rows "
            "(not lower; lower is better)"
        )
    return _verdict(
        better, "eval_loss", new, parent, Text(template, {"new": new, "parent": parent})
    )


def _higher_overlap(metrics: Mapping[str, Any], name: str) -> Verdict:
    """Better when the new model's ROUGE-L (or BLEU) on the held-out prompts is strictly above
    the parent's on the same prompts: an unchanged model ties, and a tie is not better."""
    metric = f"eval_{name}"
    new, parent = _number(metrics.get(metric)), _number(metrics.get(f"eval_parent_{name}"))
    if new is None or parent is None:
        return _verdict(None, metric, new, parent, NO_GENERATIONS)
    better = new > parent
    rows = _number(metrics.get("eval_generations"))
    if better:
        template = gettext_noop(
            "{measure} of greedy answers {new:.4g} vs the parent's {parent:.4g} on the same "
            "{prompts} held-out prompts (higher; higher is better)"
        )
    else:
        template = gettext_noop(
            "{measure} of greedy answers {new:.4g} vs the parent's {parent:.4g} on the same "
            "{prompts} held-out prompts (not higher; higher is better)"
        )
    params = {
        "measure": GATE_METRIC_LABELS[name],
        "new": new,
        "parent": parent,
        "prompts": int(rows) if rows is not None else "?",
    }
    return _verdict(better, metric, new, parent, Text(template, params))


def _above_half(
    metrics: Mapping[str, Any],
    metric: str,
    template: str,
    *,
    rows: Any = None,
    margin: float | None = None,
) -> Verdict:
    """Better when `metric` > 0.5 (and `margin` > 0 when given)."""
    new = _number(metrics.get(metric))
    if new is None:
        return _verdict(None, metric, None, 0.5, NO_COMPARISON)
    better = new > 0.5 and (margin is None or margin > 0)
    rows = int(rows) if _number(rows) is not None else "?"
    params = {"new": new, "rows": rows, "margin": margin if margin is not None else 0.0}
    return _verdict(better, metric, new, 0.5, Text(template, params))
