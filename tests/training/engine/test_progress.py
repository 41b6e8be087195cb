import types

import pytest

from training.engine.progress import (
    Cancelled,
    ProgressCallback,
    ProgressEvent,
    remaining_seconds,
    split_log,
)


def state(step, total=10):
    return types.SimpleNamespace(global_step=step, max_steps=total)


def control():
    return types.SimpleNamespace(should_training_stop=False, should_epoch_stop=False)


def test_remaining_seconds_is_linear():
    assert remaining_seconds(10.0, 2, 10) == pytest.approx(40.0)
    assert remaining_seconds(10.0, 0, 10) is None


def test_split_log_separates_loss_from_metrics():
    loss, metrics = split_log({"loss": 0.5, "rewards/accuracies": 1, "epoch": 0.5, "note": "x"})
    assert loss == 0.5
    assert metrics == {"rewards/accuracies": 1.0, "epoch": 0.5}


def test_logs_become_events_and_history():
    events: list[ProgressEvent] = []
    cb = ProgressCallback(events.append, phase="policy")
    ctl = control()
    cb.on_train_begin(None, state(0), ctl)
    cb.on_log(None, state(3), ctl, logs={"loss": 0.7, "kl": 0.01, "reward": 0.2})
    cb.on_log(None, state(3), ctl, logs={"eval_loss": 0.9})
    assert [e.kind for e in events] == ["start", "log", "eval"]
    log = events[1]
    assert (log.step, log.total_steps, log.loss, log.phase) == (3, 10, 0.7, "policy")
    assert log.metrics == {"kl": 0.01, "reward": 0.2}
    assert log.remaining_s is not None
    assert cb.losses() == [0.7]
    assert not ctl.should_training_stop


@pytest.mark.parametrize(
    "answer",
    [
        lambda e: Cancelled,
        lambda e: Cancelled("stop"),
        lambda e: (_ for _ in ()).throw(Cancelled()),
    ],
)
def test_progress_callable_can_cancel(answer):
    cb = ProgressCallback(answer)
    ctl = control()
    cb.on_log(None, state(1), ctl, logs={"loss": 1.0})
    assert cb.cancelled and ctl.should_training_stop


def test_should_stop_is_checked_every_step():
    flag = {"stop": False}
    cb = ProgressCallback(None, should_stop=lambda: flag["stop"])
    ctl = control()
    cb.on_step_end(None, state(1), ctl)
    assert not ctl.should_training_stop
    flag["stop"] = True
    cb.on_step_end(None, state(2), ctl)
    assert cb.cancelled and ctl.should_training_stop
