"""The Content-Security-Policy on the pages, the admin and the API docs."""

import re

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part for part in header.split("; ")}


def test_pages_forbid_inline_script_and_style(client, mine):
    client.force_login(mine.annotator)
    for url in (reverse("labeling:home"), reverse("labeling:workspace", args=["mine"])):
        policy = _policy(client.get(url))
        assert policy["script-src"] == "script-src 'self'"
        assert policy["style-src"] == "style-src 'self'"


def test_the_admin_needs_nothing_inline(client, mine):
    """Pages the policy would break: inline <script> bodies, style= or on*= attributes."""
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for url in (
        reverse("admin:index"),
        reverse("admin:labeling_project_changelist"),
        reverse("admin:labeling_project_change", args=[mine.project.pk]),
        reverse("admin:labeling_prompt_changelist"),
    ):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert "Content-Security-Policy" in response
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html), url
        assert not re.search(r"\sstyle=\"", html), url
        assert not re.search(r"\son[a-z]+=", html), url


def test_api_docs_serve_swagger_from_the_package(client, mine):
    client.force_login(mine.admin)
    response = client.get(reverse("api-docs"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "drf_spectacular_sidecar" in html and "cdn" not in html.lower()
    assert "'unsafe-inline'" in _policy(response)["style-src"]
    assert "'unsafe-inline'" not in _policy(response)["script-src"]
