"""Fixtures shared by the labeling tests."""

import pytest


@pytest.fixture
def live_server_settings(settings, vllm_server):
    """The app pointed at the session's real vLLM server (no per-request seeds: CPU)."""
    settings.VLLM_URLS = [vllm_server.url]
    settings.VLLM_SEND_SEED = False
    settings.BASE_MODEL_NAME = vllm_server.served_name
    return settings
