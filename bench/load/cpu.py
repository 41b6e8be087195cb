"""CPU time the load took, by part: less swayed than latencies by whatever else runs here."""

import contextlib
import os
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used inside the `with` by the server's processes (gunicorn's session), by
    the PostgreSQL backends of `database` and by this process (the annotators' threads).

    Processes come and go (a worker's connection is replaced after CONN_MAX_AGE), so they
    are sampled each second; one that ends between samples loses its last second at most.
    """

    def __init__(self, *, session: int, database: str, interval_s: float = 1.0):
        self.session, self.title = session, f" {database} "
        self.interval_s = interval_s
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def __enter__(self):
        self._sample()
        self.started = {key for key in self.first}  # counted from now, not from their start
        self.client = time.process_time()
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join()
        self._sample()
        self.client = time.process_time() - self.client

    def used(self) -> dict[str, float]:
        used = {"server": 0.0, "postgres": 0.0, "client": self.client}
        for key, seconds in self.last.items():
            used[key[0]] += seconds - (self.first[key] if key in self.started else 0.0)
        return used

    def _sample_until_stopped(self) -> None:
        while not self.stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                part = self._part_of(stat.parent, session=int(fields[3]))
                if part is not None:
                    key = (part, int(stat.parent.name))
                    seconds = (int(fields[11]) + int(fields[12])) / TICK
                    self.first.setdefault(key, seconds)
                    self.last[key] = seconds

    def _part_of(self, proc: Path, *, session: int) -> str | None:
        if session == self.session:
            return "server"
        title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return "postgres" if title.startswith("postgres:") and self.title in title else None
