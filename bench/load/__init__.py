"""`python -m bench load`: 100 annotators over HTTP until 10,000 judgements are in.

The server is the one production runs: the app under gunicorn with several workers, over
PostgreSQL, on a database of its own (`loopwork_bench_load`, dropped and made again each run;
no other database is touched). One project is seeded straight into the tables: prompts with
completions of the live version, rank, compare and rate tasks, overlap 3, and an API token per
annotator. Each simulated annotator is a thread with its own httpx client that asks for its
next task and submits a valid judgement of it, as fast as the server answers, until the
judgements asked for are in (each annotator books one before asking, so the total is exact).

Then the database is checked against what the server answered: every accepted judgement
stored, nothing stored that was not accepted (0 lost), one judgement per annotator and item
(0 duplicated), no item past its overlap, and no 5xx. The figure is the p95 of submit to
next task: from sending a judgement to holding the next task, as an annotator waits for it.

The simulation (seed, server, annotators, checks) is also what
tests/labeling/test_load_postgres.py runs, smaller, against the test database.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.common import ROOT, percentile
from bench.load.annotators import LoadOutcome, annotators_run
from bench.load.checks import LoadVerdict, load_verify
from bench.load.cpu import CpuMeter
from bench.load.database import DATABASE, bench_database
from bench.load.seed import COMPLETIONS_PER_PROMPT, KINDS, OVERLAP, load_seed, prompts_for
from bench.load.server import Gunicorn

ANNOTATORS, JUDGEMENTS = 100, 10_000
QUICK_ANNOTATORS, QUICK_JUDGEMENTS = 10, 300


def options(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench load")
    parser.add_argument("--annotators", type=int, help=f"default {ANNOTATORS} (--quick: 10)")
    parser.add_argument("--judgements", type=int, help=f"default {JUDGEMENTS} (--quick: 300)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default 2 x cores + 1)")
    return vars(parser.parse_args(argv))


def run(
    quick: bool,
    annotators: int | None = None,
    judgements: int | None = None,
    workers: int | None = None,
) -> dict:
    """Seed, serve, annotate, check; the figures for bench/results/load.json."""
    from bench.common import django_setup_throwaway

    annotators = annotators or (QUICK_ANNOTATORS if quick else ANNOTATORS)
    judgements = judgements or (QUICK_JUDGEMENTS if quick else JUDGEMENTS)
    workers = workers or 2 * (os.cpu_count() or 1) + 1
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # killed: clean up as on Ctrl-C
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, bench_database() as url:
        workdir = Path(tmp)
        started = time.perf_counter()
        django_setup_throwaway(workdir, database_url=url)
        project, tokens = load_seed(annotators=annotators, prompts=prompts_for(judgements))
        setup_s = time.perf_counter() - started
        server = Gunicorn(database_url=url, var_dir=workdir / "var", workers=workers)
        with server, CpuMeter(session=server.popen.pid, database=DATABASE) as cpu:
            outcome = annotators_run(
                base_url=server.url,
                slug=project.slug,
                tokens=tokens,
                judgements=judgements,
                progress=True,
            )
        verdict = load_verify(project=project, outcome=outcome)
    figures = _figures(outcome, verdict, annotators=annotators, workers=workers, quick=quick)
    judged = max(1, len(outcome.accepted))
    figures["cpu_ms_per_judgement"] = {
        part: round(seconds * 1000 / judged, 1) for part, seconds in cpu.used().items()
    }
    figures["setup_seconds"] = round(setup_s, 1)
    print(_summary(figures))
    return figures


def _summary(figures: dict) -> str:
    checks, turns = figures["checks"], figures["latency"]["submit_to_next"]
    verdict = "OK" if figures["met"] else "PROBLEMS: " + "; ".join(figures["problems"])
    return (
        f"{checks['accepted']} judgements in {figures['seconds']} s "
        f"({figures['judgements_per_second']}/s) by {figures['params']['annotators']} annotators; "
        f"submit -> next task p50 {turns.get('p50_ms')} ms, p95 {turns.get('p95_ms')} ms; "
        f"lost {checks['lost']}, unacknowledged {checks['unacknowledged']}, duplicated "
        f"{checks['duplicated']}, past overlap {checks['overlap_exceeded']}, "
        f"5xx {checks['server_errors']}: {verdict}"
    )


# --- the result ----------------------------------------------------------------------------


def latency_summary(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(max(values), 1),
    }


def _figures(outcome: LoadOutcome, verdict: LoadVerdict, *, annotators, workers, quick) -> dict:
    turns = latency_summary(outcome.latencies_ms["submit_to_next"])
    statuses = Counter()
    for (endpoint, status), n in sorted(outcome.statuses.items()):
        statuses[f"{endpoint} {status or 'no answer'}"] += n
    return {
        "metric": "p95 ms from sending a judgement to holding the next task, over HTTP",
        "value": turns.get("p95_ms"),
        "goal": "0 lost, 0 duplicated, overlap never exceeded, no 5xx; p95 reported",
        "unit": "ms",
        "params": {
            "annotators": annotators,
            "judgements": outcome.target,
            "kinds": list(KINDS),
            "overlap": OVERLAP,
            "completions_per_prompt": COMPLETIONS_PER_PROMPT,
            "prompts": prompts_for(outcome.target),
            "server": f"gunicorn {_version('gunicorn')}, {workers} sync workers, --preload",
            "database": f"PostgreSQL (a fresh database, {DATABASE})",
            "client": f"one thread and httpx {httpx.__version__} client per annotator, no pauses",
            "quick": quick,
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": _git(),
        "met": verdict.ok,
        "nothing_lost": verdict.lost == 0 and verdict.unacknowledged == 0,
        "checks": {name: value for name, value in vars(verdict).items() if name != "problems"},
        "problems": list(verdict.problems),
        "latency": {
            "submit_to_next": turns,
            "submit": latency_summary(outcome.latencies_ms["submit"]),
            "next": latency_summary(outcome.latencies_ms["next"]),
        },
        "statuses": dict(statuses),
        "refusals": dict(outcome.refusals),
        "ran_dry": outcome.ran_dry,
        "seconds": round(outcome.seconds, 1),
        "judgements_per_second": round(len(outcome.accepted) / outcome.seconds, 1),
    }


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def _git() -> dict:
    """The commit measured, and whether the working tree differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {"sha": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}
