"""The model version admin shows what runs made and changes it only through the services:
nothing editable, nothing added or deleted by hand, and a reward model never goes live."""

import json

import pytest
from django.urls import reverse

from core.refusals import RefusalCode
from labeling.models import Role
from labeling.services.projects import membership_grant
from tests.api.conftest import client_for
from tests.factories import ProjectFactory, UserFactory
from training.models import ModelVersion, TrainingRun
from training.services.versions import PublishError, model_version_publish, model_version_rollback

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:training_modelversion_changelist"


@pytest.fixture
def project():
    return ProjectFactory(slug="vers")


@pytest.fixture
def project_admin(project):
    user = UserFactory(username="boss")
    membership_grant(project=project, user=user, role=Role.ADMIN)
    return user


@pytest.fixture(params=["superuser", "project admin"])
def admin_user(request, project):
    if request.param == "superuser":
        return UserFactory(username="root", is_staff=True, is_superuser=True)
    return request.getfixturevalue("project_admin")


@pytest.fixture(autouse=True)
def _no_server(settings):
    """Nothing listens on the discard port: a publish that asks a server to load fails."""
    settings.VLLM_URLS = ["http://127.0.0.1:9"]
    settings.VLLM_SEND_SEED = False


def live(project):
    return project.model_versions.get(status=ModelVersion.Status.LIVE)


def version_of(project, tmp_path, *, number=1, method="dpo", adapter=True):
    """A candidate as a run leaves it: its adapter directory, and the run that made it."""
    path = ""
    if adapter:
        directory = tmp_path / f"v{number}"
        directory.mkdir()
        path = str(directory)
    version = ModelVersion.objects.create(
        project=project,
        number=number,
        parent=live(project),
        base_model_path="/models/base",
        adapter_path=path,
        served_name=f"{project.slug}-v{number}",
    )
    if method is not None:
        TrainingRun.objects.create(
            project=project,
            method=method,
            snapshot_dir=str(tmp_path),
            base_version=live(project),
            status=TrainingRun.Status.SUCCEEDED,
            result_version=version,
        )
    return version


def test_the_version_page_has_nothing_to_edit_and_a_posted_change_is_refused(
    client, project, admin_user, tmp_path
):
    version = version_of(project, tmp_path)
    client.force_login(admin_user)
    url = reverse("admin:training_modelversion_change", args=[version.pk])
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "vers-v1" in html and str(tmp_path / "v1") in html  # shown, as text
    for field in ("status", "adapter_path", "served_name", "base_model_path", "parent"):
        assert f'name="{field}"' not in html
    assert 'name="_save"' not in html

    posted = client.post(
        url, {"status": "live", "adapter_path": "/elsewhere", "served_name": "hacked"}
    )
    assert posted.status_code == 403
    version.refresh_from_db()
    assert (version.status, version.adapter_path, version.served_name) == (
        ModelVersion.Status.CANDIDATE,
        str(tmp_path / "v1"),
        "vers-v1",
    )
    assert live(project).number == 0


def test_versions_are_neither_added_nor_deleted_from_the_admin(
    client, project, admin_user, tmp_path
):
    version = version_of(project, tmp_path)
    client.force_login(admin_user)
    add = reverse("admin:training_modelversion_add")
    assert client.get(add).status_code == 403
    made = client.post(add, {"project": project.pk, "number": 7, "served_name": "x"})
    assert made.status_code == 403
    delete = reverse("admin:training_modelversion_delete", args=[version.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changelist = client.get(reverse(CHANGELIST)).content.decode()
    assert add not in changelist and 'value="delete_selected"' not in changelist
    assert 'value="publish"' in changelist and 'value="rollback"' in changelist
    assert project.model_versions.count() == 2


def test_publishing_a_reward_model_from_the_admin_is_refused(client, project, admin_user, tmp_path):
    version = version_of(project, tmp_path, method="reward")
    client.force_login(admin_user)
    response = client.post(
        reverse(CHANGELIST), {"action": "publish", "_selected_action": [version.pk]}, follow=True
    )
    html = response.content.decode().lower()  # the admin capitalizes messages
    assert "vers-v1 is a reward model" in html and "cannot serve it" in html
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.CANDIDATE
    assert live(project).number == 0


def test_the_api_refuses_to_publish_a_reward_model_with_its_code(project, project_admin, tmp_path):
    version = version_of(project, tmp_path, method="reward")
    response = client_for(project_admin).post(
        reverse("api:model_version_publish", args=[version.pk])
    )
    assert response.status_code == 409
    assert response.json()["code"] == RefusalCode.NOT_SERVABLE == "not_servable"
    assert "reward model" in response.json()["detail"]
    assert live(project).number == 0


def test_a_reward_model_is_known_by_its_meta_when_its_run_is_gone(project, tmp_path):
    version = version_of(project, tmp_path, method=None)
    (tmp_path / "v1" / "meta.json").write_text(json.dumps({"task": "reward_model"}))
    with pytest.raises(PublishError) as refused:
        model_version_publish(version=version)
    assert refused.value.code == RefusalCode.NOT_SERVABLE
    newer = model_version_publish(version=version_of(project, tmp_path, number=2, adapter=False))
    with pytest.raises(PublishError, match="reward model"):
        model_version_rollback(version=version)  # nor rolled back to
    assert live(project) == newer


def test_publish_and_roll_back_still_work_from_the_admin(client, project, admin_user, tmp_path):
    base = live(project)
    version = version_of(project, tmp_path, adapter=False)  # full weights: no server needed
    client.force_login(admin_user)
    published = client.post(
        reverse(CHANGELIST), {"action": "publish", "_selected_action": [version.pk]}, follow=True
    )
    assert "vers-v1 is live." in published.content.decode().lower()
    assert live(project) == version
    back = client.post(
        reverse(CHANGELIST), {"action": "rollback", "_selected_action": [base.pk]}, follow=True
    )
    assert "is live again." in back.content.decode()
    assert live(project) == base


def test_a_project_admin_sees_only_the_versions_of_their_projects(
    client, project, project_admin, tmp_path
):
    other = ProjectFactory(slug="other")
    client.force_login(project_admin)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert "vers-v0" in html and "other-v0" not in html
    theirs = live(other)
    page = client.get(reverse("admin:training_modelversion_change", args=[theirs.pk]))
    assert page.status_code == 302  # "doesn't exist", back to the admin's index
