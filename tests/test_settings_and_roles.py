import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from labeling.models import Role
from labeling.services.projects import membership_grant, project_create
from labeling.services.prompts import prompt_create

REPO = Path(__file__).resolve().parents[1]
# Variables the settings read; the subprocesses start from none of them set.
SETTINGS_ENV = {
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "VAR_DIR",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_HTTPS",
    "SECURE_HSTS_SECONDS",
    "BEHIND_PROXY",
    # Set by the browser tests' conftest for Playwright; never part of a deployment.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}
DATABASE_INFO = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.conf import settings
from django.db import connection
info = {"engine": settings.DATABASES["default"]["ENGINE"],
        "name": str(settings.DATABASES["default"]["NAME"]), "vendor": connection.vendor}
if connection.vendor == "sqlite":
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        info["journal_mode"] = cursor.fetchone()[0]
print(json.dumps(info))
"""


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in SETTINGS_ENV}
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _database_info(tmp_path: Path, **env: str) -> dict:
    result = _run(["-c", DATABASE_INFO], VAR_DIR=str(tmp_path), **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- settings ----------------------------------------------------------------------------


def test_deploy_check_passes_with_debug_off_and_a_real_secret_key(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(60),
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_database_url_selects_postgresql(tmp_path):
    info = _database_info(
        tmp_path, DATABASE_URL="postgres://loopwork:secret@db.internal:5432/loopwork"
    )
    assert info["engine"] == "django.db.backends.postgresql"
    assert info["name"] == "loopwork"


def test_default_database_is_sqlite_under_var_dir_in_wal_mode(tmp_path):
    info = _database_info(tmp_path)
    if info["vendor"] != "sqlite":
        pytest.skip("the default database is not SQLite here")
    assert Path(info["name"]) == tmp_path / "db.sqlite3"
    assert info["journal_mode"] == "wal"


# --- logging in --------------------------------------------------------------------------


@pytest.fixture
def member(db):
    user = User.objects.create_user(username="mina", password="correct horse battery")
    project = project_create(name="Recipes in Korean", slug="recipes")
    membership_grant(project=project, user=user, role=Role.ANNOTATOR)
    project_create(name="Someone else's project", slug="other")
    return user


def test_login_page_renders(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_logging_in_leads_to_the_users_projects(client, member):
    response = client.post(
        "/accounts/login/", {"username": "mina", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"

    home = client.get("/").content.decode()
    assert "Recipes in Korean" in home
    assert "Someone else" not in home


def test_wrong_password_shows_the_error(client, member):
    response = client.post("/accounts/login/", {"username": "mina", "password": "wrong"})
    assert response.status_code == 200
    assert "Please try again" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_home_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- the Django admin and the role groups --------------------------------------------------


def test_project_admin_sees_only_their_own_projects_prompts(client, db):
    own = project_create(name="Own", slug="own")
    other = project_create(name="Other", slug="other")
    prompt_create(project=own, instruction="Describe the smell of rain.")
    hidden = prompt_create(project=other, instruction="Name three rivers in Korea.")
    admin = User.objects.create_user(username="lead", password="lead password 1")
    membership_grant(project=own, user=admin, role=Role.ADMIN)
    assert not admin.is_superuser

    client.force_login(admin)
    changelist = client.get("/admin/labeling/prompt/")
    change_other = client.get(f"/admin/labeling/prompt/{hidden.pk}/change/")

    assert changelist.status_code == 200
    assert "Describe the smell of rain." in changelist.content.decode()
    assert "Name three rivers in Korea." not in changelist.content.decode()
    assert change_other.status_code != 200


def test_role_groups_exist_after_migrate_with_their_permissions(db):
    def codenames(name):
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    annotators = codenames("Annotators")
    reviewers = codenames("Reviewers")
    admins = codenames("Project admins")

    assert {"view_prompt", "add_demonstration"} <= annotators
    assert not {"change_prompt", "change_demonstration", "view_completion"} & annotators
    assert {"view_prompt", "change_demonstration", "view_completion"} <= reviewers
    assert "change_prompt" not in reviewers
    assert {"change_prompt", "add_prompt", "change_project", "view_modelversion"} <= admins
    assert not {"add_project", "delete_project", "change_user", "add_group"} & admins
