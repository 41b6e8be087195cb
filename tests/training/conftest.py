"""The engine tests' tiny model, shared with the training app's tests."""

from tests.training.engine.conftest import _few_threads, tiny_model_dir  # noqa: F401


def cancel_after_first_step(monkeypatch) -> None:
    """Make every run's progress reporter press the admin's cancel once step 1 is reported."""
    from training.services import runs

    monkeypatch.setattr(runs, "HEARTBEAT_EVERY_S", 0.0)
    report = runs._RunReporter.__call__

    def report_then_cancel(self, event):
        if event.step >= 1:
            runs.training_run_cancel(run=self.run)  # what the admin's cancel button calls
        return report(self, event)

    monkeypatch.setattr(runs._RunReporter, "__call__", report_then_cancel)
