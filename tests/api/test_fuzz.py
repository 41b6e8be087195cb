"""Schemathesis against the live schema: no request a project admin can send gets a 5xx, and
every answer matches the schema it is documented with.

Requests go through the WSGI app in-process (same test database), authenticated with the
admin's DRF token; the admin's project holds prompts, completions, a judgement and an export.
"""

import pytest
import schemathesis
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from labeling.services.queue import judgement_submit, task_next
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def _connections_kept_open():
    """The WSGI app closes "old" database connections as each request starts and ends, which
    closes the test's own transaction on a file database; Django's test client turns that off
    for its requests, and so must these (they go through the WSGI app itself)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(mine, settings):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    completions = list(mine.task.prompt.completions.values_list("pk", flat=True))
    judgement_submit(
        token=mine.task.token,
        annotator=mine.annotator,
        ranking=[[pk] for pk in completions],
        time_spent_ms=1000,
    )
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


def token_header(user) -> dict:
    client_for(user)  # creates the token
    return {"Authorization": f"Token {Token.objects.get(user=user).key}"}


@pytest.fixture
def open_task(api_schema, mine):
    """A task still open for the annotator (the fixture's first one is judged already)."""
    return task_next(annotator=mine.annotator, project=mine.project)


@pytest.fixture
def existing(mine, open_task):
    """Path parameters naming the fixtures' objects: random ones would only ever meet 404s."""
    return {
        "slug": mine.project.slug,
        "token": str(open_task.token),
        "name": "manifest.json",
        "/exports/": mine.export.pk,
        "/training-runs/": mine.run.pk,
        "/model-versions/": mine.version.pk,
    }


def point_at_existing(case, existing: dict) -> None:
    for name in case.path_parameters or {}:
        if name == "id":
            prefix = "/" + case.path.removeprefix("/api/").split("/")[0] + "/"
            case.path_parameters[name] = existing[prefix]
        elif name in existing:
            case.path_parameters[name] = existing[name]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_answers_match_the_schema(case, mine, existing):
    cache.clear()  # the per-user throttle would otherwise answer 429 partway through
    point_at_existing(case, existing)
    # A task token is its annotator's alone; everything else is the admin's to call.
    user = mine.annotator if case.path.startswith("/api/tasks/") else mine.admin
    case.call_and_validate(
        headers=token_header(user), checks=[not_a_server_error, response_schema_conformance]
    )


def test_an_import_of_undecodable_bytes_is_answered_400_not_500(mine):
    """Found by the fuzzer: the rows' errors quote the bad bytes, which JSON could not encode."""
    upload = SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00")
    url = reverse("api:prompt_import", args=["mine"])
    answer = client_for(mine.admin).post(url, {"file": upload, "format": "csv"})
    assert answer.status_code == 400
    assert "\\x89" in answer.content.decode()  # the bad byte, shown escaped
