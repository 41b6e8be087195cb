"""PostgreSQL restarted while annotators submit: a submission either lands, or fails with a
dropped connection and lands when it is sent again (as the browser sends it again); none
vanishes, none is recorded twice, no item goes past its overlap.

These tests restart the local PostgreSQL cluster for real (`pg_ctlcluster ... restart`): every
other client of that server loses its connection too, so run them alone.
"""

import shutil
import subprocess
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from labeling.models import Assignment, Judgement, QueueItem
from labeling.services.queue import judgement_submit, task_next
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DROPPED = (OperationalError, InterfaceError)  # what a dropped or refused connection raises
CLUSTERS = Path("/etc/postgresql")
OVERLAP = 2


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def restart_postgres():
    """A function restarting the local cluster this test's database is on; returns when it
    accepts connections again."""
    if connection.vendor != "postgresql":
        pytest.skip("restarts PostgreSQL: runs with DATABASE_URL on a local PostgreSQL server")
    if connection.settings_dict["HOST"] not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip("the database server is not on this machine: it cannot be restarted here")
    if not shutil.which("pg_ctlcluster") or not CLUSTERS.is_dir():
        pytest.skip("pg_ctlcluster (Debian's postgresql-common) is missing: cannot restart")
    (version,) = sorted(path.name for path in CLUSTERS.iterdir())[-1:]

    def restart() -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
            check=True,
            capture_output=True,
            timeout=120,
        )

    yield restart
    connection.close()  # this thread's connection died with the restart: teardown needs a new one


def request(step, *, dropped: list):
    """`step()` as one request does it, sent again (as the browser does) while the connection
    is dropped or refused. Django closes unusable connections at each request's start and end
    (close_old_connections), and health-checks a kept one before its first query."""
    for _ in range(200):
        close_old_connections()
        try:
            return step()
        except DROPPED as error:
            dropped.append(error)
            time.sleep(0.05)
        finally:
            close_old_connections()
    raise AssertionError(f"still failing after 200 tries: {dropped[-1]!r}")


def annotating_project(prompts: int):
    project = ProjectFactory(task_kinds=["rank"], overlap=OVERLAP, completions_per_prompt=2)
    for _ in range(prompts):
        CompletionFactory.create_batch(2, prompt=PromptFactory(project=project))
    return project


def rank_as_shown(assignment, user) -> Judgement:
    ranking = [[pk] for pk in assignment.completion_ids]
    return judgement_submit(
        token=assignment.token, annotator=user, ranking=ranking, time_spent_ms=1
    )


class Annotators:
    """Annotators in threads of their own, each taking and submitting tasks until told to stop
    (or none is left), each request sent again while the database is away."""

    def __init__(self, project, count: int):
        self.project = project
        self.users = [UserFactory() for _ in range(count)]
        self.landed: list[tuple[str, int]] = []  # (token, judgement id) of each returned submit
        self.dropped: list[Exception] = []
        self.errors: list[Exception] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.work, args=(user,)) for user in self.users]

    def work(self, user) -> None:
        try:
            while not self.stop.is_set():
                next_task = partial(task_next, annotator=user, project=self.project)
                if (assignment := request(next_task, dropped=self.dropped)) is None:
                    return
                judgement = request(partial(rank_as_shown, assignment, user), dropped=self.dropped)
                self.landed.append((str(assignment.token), judgement.pk))
        except Exception as error:  # reported by the test, with its traceback
            self.errors.append(error)
        finally:
            connection.close()

    def wait_for_landed(self, count: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.landed) < count and time.monotonic() < deadline:
            assert not self.errors, self.errors
            time.sleep(0.05)
        assert len(self.landed) >= count, f"only {len(self.landed)} submissions landed"

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)


def test_submissions_during_a_restart_land_exactly_once(restart_postgres):
    project = annotating_project(prompts=150)
    with Annotators(project, count=6) as annotators:
        annotators.wait_for_landed(20)
        before = len(annotators.landed)
        restart_postgres()
        annotators.wait_for_landed(before + 20)
    connection.close()  # this thread's own connection died with the restart
    assert not annotators.errors, annotators.errors
    assert annotators.dropped, "the restart dropped no request: it did not happen under load"

    tokens = [token for token, _ in annotators.landed]
    assert len(tokens) == len(set(tokens))  # each task submitted once
    landed = Judgement.objects.filter(pk__in=[pk for _, pk in annotators.landed])
    assert landed.count() == len(tokens)  # every submission that returned is stored
    assert Judgement.objects.count() == len(tokens)  # and nothing else
    submitted = Assignment.objects.filter(status=Assignment.Status.SUBMITTED)
    assert sorted(str(token) for token in submitted.values_list("token", flat=True)) == sorted(
        tokens
    )
    per_item = Counter(Judgement.objects.values_list("prompt_id", "kind"))
    assert max(per_item.values()) <= OVERLAP
    per_person = Counter(Judgement.objects.values_list("prompt_id", "annotator_id"))
    assert set(per_person.values()) == {1}
    assert max(QueueItem.objects.values_list("taken", flat=True)) <= OVERLAP


def test_a_kept_connection_the_restart_dropped_is_replaced_at_the_next_request(
    restart_postgres,
):
    """A web worker keeps its connection between requests (CONN_MAX_AGE); after a restart,
    the first request of each worker would fail with a 500 unless the connection is checked
    (CONN_HEALTH_CHECKS) and replaced."""
    project = annotating_project(prompts=2)
    user = UserFactory()
    close_old_connections()  # a request ends: the connection is kept
    assert task_next(annotator=user, project=project) is not None
    close_old_connections()
    assert connection.connection is not None  # still open, as a web worker keeps it

    restart_postgres()
    close_old_connections()  # the next request starts
    assignment = task_next(annotator=user, project=project)  # no OperationalError

    judgement = rank_as_shown(assignment, user)
    assert Judgement.objects.get(pk=judgement.pk).annotator == user
