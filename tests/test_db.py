"""SQLite's one writer at a time: a service meets a lock that outlasts the busy timeout and
runs again instead of failing the annotator's request."""

import sqlite3
import threading

import pytest
from django.db import OperationalError, connection, transaction

from core.db import sqlite_lock_retried
from labeling.models import Project
from labeling.services.projects import project_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held_write_lock():
    """Another process's writer holding SQLite's write lock for 0.4 s, while this
    connection waits only 20 ms before it is told the database is locked."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write lock")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout=20")
    other = sqlite3.connect(connection.settings_dict["NAME"], check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.4, other.rollback)
    release.start()
    yield
    release.join()
    other.close()
    connection.close()  # the next test's connection gets the normal busy timeout again


def _create(slug: str, calls: list) -> None:
    calls.append(slug)
    project_create(name=slug, slug=slug)


def test_a_locked_database_is_retried_until_the_writer_is_done(held_write_lock):
    calls = []
    sqlite_lock_retried(_create)("after-the-lock", calls)
    assert len(calls) > 1  # it met the lock at least once
    assert Project.objects.filter(slug="after-the-lock").exists()


def test_without_the_retry_the_same_write_fails(held_write_lock):
    with pytest.raises(OperationalError, match="locked"):
        _create("never", [])


def test_inside_a_callers_transaction_the_lock_goes_up_to_the_caller(held_write_lock):
    calls = []
    with pytest.raises(OperationalError, match="locked"), transaction.atomic():
        sqlite_lock_retried(_create)("inside", calls)
    assert len(calls) <= 1  # never run again inside the caller's transaction
