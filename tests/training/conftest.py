"""The engine tests' tiny model, shared with the training app's tests."""

from tests.training.engine.conftest import _few_threads, tiny_model_dir  # noqa: F401
