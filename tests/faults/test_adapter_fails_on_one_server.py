"""An adapter that one of two real vLLM servers cannot load: its LoRA rank is above that
server's --max-lora-rank. Publishing is refused naming that server, nothing goes live, and the
server that had loaded it unloads it again; a version both can load then publishes."""

from dataclasses import replace

import pytest

from serving.vllm.client import BadRequest, Sampling
from tests.factories import ProjectFactory
from tests.fixtures.vllm import make_lora_adapter, running_servers, vllm_server_config
from training.models import ModelVersion
from training.selectors.versions import live_version
from training.services.versions import PublishError, model_version_publish

pytestmark = [pytest.mark.vllm, pytest.mark.django_db]

WIDE_RANK = 16  # the first server's --max-lora-rank (ServerConfig's default)
NARROW_RANK = 8  # the second server's: an adapter of rank 16 is too wide for it
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def servers(base_model_dir, tmp_path_factory):
    """(wide, narrow): two servers of the bundled model, told apart only by their max rank."""
    model_dir, served_name = base_model_dir
    logs = tmp_path_factory.mktemp("vllm-pair")
    wide = vllm_server_config(model_dir, served_name, logs)
    narrow = vllm_server_config(model_dir, served_name, logs)
    while narrow.port == wide.port:  # each was free a moment ago; both must be free together
        narrow = vllm_server_config(model_dir, served_name, logs)
    assert wide.max_lora_rank == WIDE_RANK
    with running_servers(wide, replace(narrow, max_lora_rank=NARROW_RANK), timeout=600) as pair:
        yield pair


@pytest.fixture(scope="module")
def adapters(base_model_dir, tmp_path_factory) -> dict[int, str]:
    """{rank: adapter directory}"""
    model_dir, _ = base_model_dir
    root = tmp_path_factory.mktemp("adapters")
    return {
        rank: str(make_lora_adapter(model_dir, root / f"rank-{rank}", rank=rank))
        for rank in (NARROW_RANK, WIDE_RANK)
    }


def candidate(project, number: int, adapter_path: str) -> ModelVersion:
    return ModelVersion.objects.create(
        project=project,
        number=number,
        parent=live_version(project),
        base_model_path=live_version(project).base_model_path,
        adapter_path=adapter_path,
        served_name=f"{project.slug}-v{number}",
    )


def adapters_served(server) -> set[str]:
    """The adapter names the server's /v1/models lists (the base model is not one)."""
    return {model.id for model in server.client.models() if model.parent}


def answers_through(server, name: str) -> bool:
    """True when a request naming the adapter is served; False when the server says 404."""
    try:
        result = server.client.chat(model=name, messages=HELLO, sampling=Sampling(max_tokens=4))
    except BadRequest as exc:
        if exc.status_code == 404:
            return False
        raise
    return bool(result.choices)


def test_an_adapter_one_server_cannot_load_goes_live_nowhere(settings, servers, adapters):
    wide, narrow = servers
    settings.VLLM_URLS = [wide.url, narrow.url]
    settings.VLLM_SEND_SEED = False
    project = ProjectFactory(slug="pair")
    v1 = model_version_publish(version=candidate(project, 1, adapters[NARROW_RANK]))
    assert v1.status == ModelVersion.Status.LIVE
    assert all(adapters_served(server) == {"pair-v1"} for server in servers)

    v2 = candidate(project, 2, adapters[WIDE_RANK])
    with pytest.raises(PublishError) as refused:
        model_version_publish(version=v2)

    message = str(refused.value)
    assert message.startswith("pair-v2 stays a candidate; the live version is unchanged. ")
    failed, unloaded_again = message.split(" It was unloaded again from ")
    assert f"on 1 of 2 servers: {narrow.url}: " in failed and wide.url not in failed
    assert f"LoRA rank {WIDE_RANK} is greater than max_lora_rank {NARROW_RANK}" in failed
    assert unloaded_again == f"{wide.url}."
    v2.refresh_from_db()
    assert v2.status == ModelVersion.Status.CANDIDATE
    assert live_version(project) == v1
    for server in servers:  # the live adapter still serves everywhere, the refused one nowhere
        assert adapters_served(server) == {"pair-v1"}, server.url
        assert answers_through(server, "pair-v1") and not answers_through(server, "pair-v2")

    v3 = model_version_publish(version=candidate(project, 3, adapters[NARROW_RANK]))
    assert live_version(project) == v3
    assert list(project.model_versions.order_by("number").values_list("status", flat=True)) == [
        "retired",
        "retired",
        "candidate",
        "live",
    ]
    for server in servers:
        assert "pair-v3" in adapters_served(server) and "pair-v2" not in adapters_served(server)
        assert answers_through(server, "pair-v3")
