"""Two projects with data in each, and a member of every role; API clients for each."""

import json
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.models import Assignment, DatasetExport, Project
from labeling.services.exports import dataset_export_create
from labeling.services.projects import membership_grant
from labeling.services.queue import task_next
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory
from training.models import ModelVersion, TrainingRun

ROLES = ("anonymous", "annotator", "reviewer", "admin_elsewhere", "admin")


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache; each test starts from none."""
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    project: Project
    annotator: object
    reviewer: object
    admin: object
    admin_elsewhere: object
    task: Assignment
    export: DatasetExport
    run: TrainingRun
    version: ModelVersion

    def user(self, role: str):
        return None if role == "anonymous" else getattr(self, role)


def project_with_data(tmp_path, name: str, *, kinds=("rank",), prompts=3, n=2) -> Project:
    project = ProjectFactory(name=name, slug=name, task_kinds=list(kinds), completions_per_prompt=n)
    for _ in range(prompts):
        prompt = PromptFactory(project=project)
        for _ in range(n):
            CompletionFactory(prompt=prompt, text=f"{name} completion")
    return project


def world_build(tmp_path, name: str) -> World:
    project = project_with_data(tmp_path, name)
    members = {}
    for role in ("annotator", "reviewer", "admin"):
        members[role] = UserFactory(username=f"{name}-{role}")
        membership_grant(project=project, user=members[role], role=role)
    elsewhere = project_with_data(tmp_path, f"{name}-elsewhere", prompts=1)
    members["admin_elsewhere"] = UserFactory(username=f"{name}-admin-elsewhere")
    membership_grant(project=elsewhere, user=members["admin_elsewhere"], role="admin")
    task = task_next(annotator=members["annotator"], project=project)
    export = dataset_export_create(project=project, format="alpaca", created_by=members["admin"])
    snapshot = tmp_path / name / "snapshot"
    snapshot.mkdir(parents=True)
    (snapshot / "manifest.json").write_text(json.dumps({"files": {}}))
    DatasetExport.objects.filter(pk=export.pk).update(status="done", path=str(snapshot))
    export.refresh_from_db()
    live = project.model_versions.get(status="live")
    run = TrainingRun.objects.create(
        project=project, method="sft", snapshot_dir=str(snapshot), base_version=live, export=export
    )
    return World(project=project, task=task, export=export, run=run, version=live, **members)


@pytest.fixture
def mine(db, tmp_path, settings):
    settings.EXPORTS_DIR = tmp_path / "exports"
    return world_build(tmp_path, "mine")


@pytest.fixture
def other(db, tmp_path):
    return world_build(tmp_path, "other")


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
