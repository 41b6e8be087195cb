"""Making a model version live: hot-load its adapter on every vLLM server, then switch.

The order matters: the adapter is loaded on every configured server first (network calls, no
transaction open), and only when all have it does one short transaction retire the old live
version and make this one live. A server that fails leaves the version a candidate and the
live one serving, untouched.
"""

from __future__ import annotations

import logging

from django.db import transaction

from core.refusals import Refusal, RefusalCode
from labeling.models import Project
from serving.config import server_pool
from serving.vllm.client import ServingError
from training.models import ModelVersion
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
        raise PublishError(
            f"{version.served_name} is newer than the live {live.served_name}: publish it instead",
            code=RefusalCode.ROLLBACK_NOT_ALLOWED,
        )
    return _make_live(version)


def _make_live(version: ModelVersion) -> ModelVersion:
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


def _load_everywhere(version: ModelVersion) -> None:
    pool = server_pool()
    try:
        pool.load_adapter(name=version.served_name, path=version.adapter_path)
    except ServingError as exc:
        raise PublishError(
            f"{version.served_name} stays a candidate; the live version is unchanged. {exc}"
        ) from exc
    finally:
        pool.close()


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
