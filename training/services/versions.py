"""Making a model version live: hot-load its adapter on every vLLM server, then switch.

The order matters: the adapter is loaded on every configured server first (network calls, no
transaction open), and only when all have it does one short transaction retire the old live
version and make this one live. A server that fails leaves the version a candidate and the
live one serving, untouched, and the servers that did load it unload it again (ServerPool).
A reward model is refused before any of it: it scores completions and writes none, so no
server can answer requests with it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.refusals import Refusal, RefusalCode
from labeling.models import Project
from serving.config import server_pool
from serving.services import adapter_load_everywhere
from serving.vllm.client import ServingError
from training.engine.publish import read_meta
from training.models import ModelVersion, TrainingRun
from training.selectors.versions import RECENT_ADAPTERS_PER_PROJECT, adapters_wanted, live_version

logger = logging.getLogger(__name__)


class PublishError(Refusal):
    """The version could not be made live; the message names the servers that failed."""

    default_code = RefusalCode.PUBLISH_FAILED


def model_version_publish(*, version: ModelVersion) -> ModelVersion:
    """Make a candidate (or retired) version the project's live one."""
    if version.status == ModelVersion.Status.LIVE:
        return version
    return _make_live(version)


def model_version_rollback(*, version: ModelVersion) -> ModelVersion:
    """Make an earlier version live again (version 0, the base model, needs no adapter)."""
    live = live_version(version.project)
    if live is not None and live.pk == version.pk:
        return version
    if live is not None and version.number > live.number:
        message = _("%(version)s is newer than the live %(live)s: publish it instead")
        raise PublishError(
            message % {"version": version.served_name, "live": live.served_name},
            code=RefusalCode.ROLLBACK_NOT_ALLOWED,
        )
    return _make_live(version)


def _make_live(version: ModelVersion) -> ModelVersion:
    _servable_check(version)
    if version.is_adapter:
        _load_everywhere(version)
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=version.project_id).first()
        live = version.project.model_versions.filter(status=ModelVersion.Status.LIVE).exclude(
            pk=version.pk
        )
        replaced = live.first()
        live.update(status=ModelVersion.Status.RETIRED)
        ModelVersion.objects.filter(pk=version.pk).update(
            status=ModelVersion.Status.LIVE, replaced=replaced
        )
    version.refresh_from_db()
    adapters_unload_old(project=version.project)
    return version


def _servable_check(version: ModelVersion) -> None:
    """Refuse a reward model at the click (publish or roll back; admin, API or CLI alike),
    before any server is asked to load it."""
    if version_is_reward_model(version):
        message = _(
            "%(version)s is a reward model: it scores completions and writes none, so the "
            "model servers cannot serve it. Publish a policy version (SFT, DPO, KTO, ORPO, "
            "RLHF) instead; the live version is unchanged."
        )
        raise PublishError(
            message % {"version": version.served_name},
            code=RefusalCode.NOT_SERVABLE,
        )
    if version.is_adapter and holds_full_weights(version.adapter_path):
        message = _(
            "%(version)s holds full weights (trained with LoRA off), not an adapter: serving "
            "it needs the model servers restarted on those weights, which publishing cannot "
            "do yet. It stays a candidate; the live version is unchanged."
        )
        raise PublishError(
            message % {"version": version.served_name},
            code=RefusalCode.NOT_SERVABLE,
        )


def holds_full_weights(directory: str) -> bool:
    """A LoRA-off run's output (meta.json "kind": "full", or a config.json and no adapter):
    vLLM's load_lora_adapter would refuse it."""
    path = Path(directory)
    if (path / "adapter_config.json").is_file():
        return False
    return (path / "config.json").is_file() or read_meta(path).get("kind") == "full"


def version_is_reward_model(version: ModelVersion) -> bool:
    """Made by a reward run, by its run's method; or, its run gone, by the adapter's
    meta.json ("task": "reward_model"), which travels with the weights."""
    runs = TrainingRun.objects.filter(result_version=version, method=TrainingRun.Method.REWARD)
    if runs.exists():
        return True
    if not version.is_adapter:
        return False
    try:
        return read_meta(version.adapter_path).get("task") == "reward_model"
    except (OSError, ValueError):  # unreadable meta: the servers' load will say what is wrong
        return False


def _load_everywhere(version: ModelVersion) -> None:
    try:
        adapter_load_everywhere(name=version.served_name, path=version.adapter_path)
    except ServingError as exc:
        message = _("%(version)s stays a candidate; the live version is unchanged. %(error)s")
        raise PublishError(message % {"version": version.served_name, "error": exc}) from exc


def adapters_unload_old(*, project: Project, keep: int = RECENT_ADAPTERS_PER_PROJECT) -> list[str]:
    """Unload the project's adapters it no longer wants loaded (`adapters_wanted`: the live
    one, the one it is compared with, the `keep` newest); their files stay on disk.

    Best effort: an unload that fails is logged, not raised (the switch already happened).
    """
    kept = {v.pk for v in adapters_wanted(project, recent=keep)}
    adapters = project.model_versions.exclude(adapter_path="").order_by("-number")
    old = [v for v in adapters if v.pk not in kept]
    if not old:
        return []
    pool = server_pool()
    unloaded = []
    try:
        for version in old:
            try:
                pool.unload_adapter(name=version.served_name)
                unloaded.append(version.served_name)
            except ServingError as exc:
                logger.warning("could not unload %s: %s", version.served_name, exc)
    finally:
        pool.close()
    return unloaded
