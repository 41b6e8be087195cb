"""Database behaviour every app relies on, whichever database runs underneath."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

P = ParamSpec("P")
R = TypeVar("R")

LOCK_RETRIES = 6
LOCK_FIRST_WAIT_S = 0.05


def sqlite_lock_retried(service: Callable[P, R]) -> Callable[P, R]:
    """Run `service` again when SQLite says the database is locked or busy.

    SQLite has one writer at a time. Each write transaction waits out the busy timeout
    (settings: 10 s), yet a burst of annotators can still outlast it, and a read transaction
    that must become a write one is refused at once instead of waiting. The whole service
    is one transaction, so running it again starts clean. Only at the outermost level: inside
    a caller's transaction a retry would repeat half of theirs, so the error goes up to them.
    PostgreSQL never gets here (its errors are not SQLite's lock messages).
    """

    @functools.wraps(service)
    def retried(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(LOCK_RETRIES):
            try:
                return service(*args, **kwargs)
            except OperationalError as error:
                if not _is_sqlite_lock(error) or connection.in_atomic_block:
                    raise
                time.sleep(LOCK_FIRST_WAIT_S * 2**attempt * (0.5 + random.random()))
        return service(*args, **kwargs)

    return retried


def _is_sqlite_lock(error: OperationalError) -> bool:
    message = str(error)
    return connection.vendor == "sqlite" and ("locked" in message or "busy" in message)
