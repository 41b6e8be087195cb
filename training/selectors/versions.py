"""The one read API for model versions: which is live, which it is compared with, and which
adapters the model servers should keep loaded.

It sits below labeling and serving (both read versions through it), so it imports neither:
projects are reached through `apps.get_model` and the ModelVersion relations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps

from training.models import ModelVersion

if TYPE_CHECKING:
    from labeling.models import Project

RECENT_ADAPTERS_PER_PROJECT = 3
# labeling.models.TaskKind.COMPARE, by value: importing labeling here would close a cycle
# (tests/serving/test_model_servers.py checks the two stay equal).
COMPARE_KIND = "compare"


def live_version(project: Project) -> ModelVersion | None:
    """The project's live model version, whose completions annotators see."""
    return ModelVersion.objects.filter(project=project, status=ModelVersion.Status.LIVE).first()


def comparison_version(project: Project, *, live: ModelVersion) -> ModelVersion | None:
    """The version the live one replaced when it went live (recorded since publishing kept
    track); for older rows the latest retired one, else the live one's parent."""
    if live.replaced_id is not None:
        return live.replaced
    retired = (
        ModelVersion.objects.filter(project=project, status=ModelVersion.Status.RETIRED)
        .exclude(pk=live.pk)
        .order_by("-number")
        .first()
    )
    return retired or live.parent


def comparison_in_use(project: Project, *, live: ModelVersion) -> ModelVersion | None:
    """The version `live` is being compared with: the one it replaced, while the project
    compares at all (a share above 0 and compare tasks enabled); else None."""
    if project.compare_share <= 0 or COMPARE_KIND not in (project.task_kinds or []):
        return None
    return comparison_version(project, live=live)


@dataclass(frozen=True)
class ServedAdapter:
    name: str  # ModelVersion.served_name
    path: str  # ModelVersion.adapter_path


def adapters_wanted(
    project: Project, *, recent: int = RECENT_ADAPTERS_PER_PROJECT
) -> list[ModelVersion]:
    """The project's adapters to keep loaded: the live one, the one it is compared with
    (even when retired), and the `recent` newest non-retired ones. Servers start with these
    (`adapters_to_serve`); publishing unloads the rest (training.services.versions)."""
    live = live_version(project)
    comparison = comparison_in_use(project, live=live) if live is not None else None
    wanted = {v.pk: v for v in (live, comparison) if v is not None and v.is_adapter}
    newest = (
        project.model_versions.exclude(adapter_path="")
        .exclude(status=ModelVersion.Status.RETIRED)
        .order_by("-number")
    )
    for version in newest[:recent]:
        wanted.setdefault(version.pk, version)
    return list(wanted.values())


def adapters_to_serve(*, recent: int = RECENT_ADAPTERS_PER_PROJECT) -> list[ServedAdapter]:
    """What every project wants loaded (`adapters_wanted`), for a server that starts."""
    project_model = apps.get_model("labeling", "Project")
    projects = project_model.objects.filter(
        pk__in=ModelVersion.objects.exclude(adapter_path="").values("project_id")
    )
    return [
        ServedAdapter(name=v.served_name, path=v.adapter_path)
        for project in projects
        for v in adapters_wanted(project, recent=recent)
    ]
