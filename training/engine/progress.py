"""Progress reporting and cooperative cancellation.

The engine reports through a plain callable, `progress(event)`, so the web side can store
events on a TrainingRun without the engine knowing about Django. To cancel a run, the callable
returns or raises `Cancelled`, or the caller passes `should_stop`, checked after every step.
The trainer then stops at the step boundary and `train()` raises `Cancelled`; nothing is
published. Under a launcher only the main process reports, and the processes agree at each
step's end whether to stop (one stopping alone would leave the others waiting for it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transformers import TrainerCallback

from training.engine import ranks


class Cancelled(Exception):
    """The run was cancelled by its caller; raised by `train()` after the trainer stopped."""


@dataclass
class ProgressEvent:
    kind: str = field(metadata={"help": "start, log, eval or end."})
    step: int = field(default=0, metadata={"help": "Optimiser steps done."})
    total_steps: int = field(default=0, metadata={"help": "Optimiser steps planned."})
    loss: float | None = field(default=None, metadata={"help": "Latest training loss."})
    metrics: dict[str, float] = field(
        default_factory=dict,
        metadata={"help": "Other logged values (rewards/accuracies, rewards/margins, kl, ...)."},
    )
    elapsed_s: float = field(default=0.0, metadata={"help": "Seconds since the phase started."})
    remaining_s: float | None = field(
        default=None, metadata={"help": "Estimated seconds left in the phase (None before step 1)."}
    )
    phase: str = field(
        default="train", metadata={"help": "Which trainer runs: train, or reward then policy."}
    )


ProgressFn = Callable[[ProgressEvent], Any]
StopFn = Callable[[], bool]


def remaining_seconds(elapsed_s: float, step: int, total_steps: int) -> float | None:
    """Linear estimate of the time left; None until a step is done."""
    if step <= 0 or total_steps <= 0:
        return None
    return max(0.0, elapsed_s / step * (total_steps - step))


def split_log(logs: dict[str, Any]) -> tuple[float | None, dict[str, float]]:
    """(loss, other numeric metrics) from a Trainer log dict."""
    loss = logs.get("loss")
    metrics = {
        k: float(v)
        for k, v in logs.items()
        if k != "loss" and isinstance(v, int | float) and not isinstance(v, bool)
    }
    loss_value = float(loss) if isinstance(loss, int | float) and math.isfinite(loss) else None
    return loss_value, metrics


class ProgressCallback(TrainerCallback):
    """Turns Trainer/TRL logs into ProgressEvents, keeps the history, and stops on request."""

    def __init__(
        self,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        phase: str = "train",
    ):
        self.progress = progress
        self.should_stop = should_stop
        self.phase = phase
        self.history: list[dict[str, Any]] = []
        self.cancelled = False
        self.stop_wanted = False  # asked for here, not yet agreed by every process
        self._started = time.monotonic()

    def emit(self, event: ProgressEvent) -> None:
        if self.progress is None or not ranks.is_main():
            return
        try:
            answer = self.progress(event)
        except Cancelled:
            self.stop_wanted = True
            return
        if answer is Cancelled or isinstance(answer, Cancelled):
            self.stop_wanted = True

    def _event(self, kind: str, state: Any, logs: dict[str, Any] | None = None) -> ProgressEvent:
        elapsed = time.monotonic() - self._started
        loss, metrics = split_log(logs or {})
        return ProgressEvent(
            kind=kind,
            step=state.global_step,
            total_steps=state.max_steps,
            loss=loss,
            metrics=metrics,
            elapsed_s=elapsed,
            remaining_s=remaining_seconds(elapsed, state.global_step, state.max_steps),
            phase=self.phase,
        )

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = time.monotonic()
        self.emit(self._event("start", state))
        self._maybe_stop(control, step_end=False)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        kind = "eval" if any(k.startswith("eval_") for k in logs) else "log"
        if "train_runtime" in logs:
            kind = "end"
        self.history.append({"step": state.global_step, "phase": self.phase, **logs})
        self.emit(self._event(kind, state, logs))
        self._maybe_stop(control, step_end=False)

    def on_step_end(self, args, state, control, **kwargs):
        self._maybe_stop(control, step_end=True)

    def _maybe_stop(self, control, *, step_end: bool) -> None:
        if not self.stop_wanted and self.should_stop is not None and self.should_stop():
            self.stop_wanted = True
        if ranks.distributed():
            # Every process reaches each step's end; only there do they decide together.
            if not step_end or self.cancelled:
                return
            self.cancelled = ranks.any_process(self.stop_wanted)
        else:
            self.cancelled = self.cancelled or self.stop_wanted
        if self.cancelled:
            control.should_training_stop = True
            control.should_epoch_stop = True

    def agree_cancelled(self) -> bool:
        """After training: whether the run was cancelled, the same answer on every process
        (a stop asked for after the last step's decision counts too)."""
        self.cancelled = ranks.any_process(self.cancelled or self.stop_wanted)
        return self.cancelled

    def losses(self) -> list[float]:
        """The training losses logged, in order."""
        return [h["loss"] for h in self.history if isinstance(h.get("loss"), int | float)]
