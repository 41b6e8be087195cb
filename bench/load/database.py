"""The load benchmark's own PostgreSQL database: made fresh for a run, dropped after it."""

import contextlib
import os
import sys
from urllib.parse import urlsplit, urlunsplit

DATABASE = "loopwork_bench_load"
# The server to make the database on (its maintenance database), as scripts/test.sh names it.
POSTGRES_URL = os.environ.get("POSTGRES_TEST_URL", "postgres://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def bench_database():
    """A fresh PostgreSQL database for this run (its URL), dropped afterwards whatever
    happens. Only the database named DATABASE is ever created or dropped."""
    import psycopg

    server = urlsplit(POSTGRES_URL)
    url = urlunsplit(server._replace(path=f"/{DATABASE}"))
    maintenance = POSTGRES_URL.replace("postgres://", "postgresql://", 1)

    def execute(sql: str) -> None:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql)

    execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    execute(f"CREATE DATABASE {DATABASE}")
    try:
        yield url
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
