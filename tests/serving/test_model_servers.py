"""The Django side: which servers the app uses and which adapters serve_model loads."""

from io import StringIO

import pytest
from django.core.management import call_command

from labeling.models import TaskKind
from serving import config
from serving.config import send_seed, server_urls
from tests.factories import ProjectFactory
from training.models import ModelVersion
from training.selectors.versions import COMPARE_KIND, ServedAdapter, adapters_to_serve


def version(project, number, status=ModelVersion.Status.CANDIDATE):
    name = f"{project.slug}-v{number}"
    return ModelVersion.objects.create(
        project=project,
        number=number,
        base_model_path="/models/base",
        adapter_path=f"/adapters/{name}",
        served_name=name,
        status=status,
    )


@pytest.mark.django_db
def test_serve_model_loads_live_and_recent_adapters_of_every_project():
    alpha, beta = ProjectFactory(slug="alpha"), ProjectFactory(slug="beta")
    # Each project starts with its base model live as v0 (served as itself, no adapter).
    ModelVersion.objects.filter(project=alpha).update(status=ModelVersion.Status.RETIRED)
    version(alpha, 1, status=ModelVersion.Status.LIVE)
    for number in range(2, 7):
        version(alpha, number)
    version(alpha, 7, status=ModelVersion.Status.RETIRED)
    version(beta, 1, status=ModelVersion.Status.RETIRED)
    version(beta, 2)

    names = sorted(adapter.name for adapter in adapters_to_serve(recent=3))

    # The retired alpha-v7 and beta-v1 are what the live versions replaced (rolled back
    # from): their compare tasks put the two head to head, so they stay loaded too.
    assert names == [
        "alpha-v1", "alpha-v4", "alpha-v5", "alpha-v6", "alpha-v7", "beta-v1", "beta-v2",
    ]  # fmt: skip
    assert ServedAdapter(name="beta-v2", path="/adapters/beta-v2") in adapters_to_serve()


def test_local_cpu_server_gets_no_seeds_and_configured_servers_follow_the_setting(
    settings, monkeypatch
):
    settings.VLLM_URLS = []
    settings.VLLM_PORT = 8100
    monkeypatch.setattr(config, "_local_server_is_cpu", lambda python: True)
    assert server_urls() == ["http://127.0.0.1:8100"]
    assert send_seed() is False
    assert config.server_pool().clients[0].send_seed is False

    settings.VLLM_URLS = ["http://gpu-1:8000", "http://gpu-2:8000"]
    settings.VLLM_SEND_SEED = True
    assert server_urls() == ["http://gpu-1:8000", "http://gpu-2:8000"]
    assert send_seed() is True
    settings.VLLM_SEND_SEED = False
    assert send_seed() is False


def test_serve_model_starts_nothing_when_servers_are_configured(settings):
    settings.VLLM_URLS = ["http://gpu-1:8000"]
    out = StringIO()
    call_command("serve_model", stdout=out)
    assert "using the configured servers: http://gpu-1:8000" in out.getvalue()


def test_versions_know_the_compare_kind_by_the_value_labeling_stores():
    # training.selectors.versions sits below labeling and cannot import TaskKind; if the
    # value drifted, head-to-head comparisons would silently stop loading their adapter.
    assert TaskKind.COMPARE == COMPARE_KIND
