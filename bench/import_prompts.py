"""Benchmark `manage.py import_prompts` on a generated JSON Lines file.

100k rows (5k with --quick) of mixed English and Korean prompts, some with an input, about half
with a reference output, 1% repeats of earlier rows. The import runs as its own process on a
throwaway SQLite database, so the wall time and peak RSS are what a user would see.
Goal: 100k rows in under 60 s with peak RSS under 300 MB.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import child_run, django_setup_throwaway

FULL_ROWS = 100_000
QUICK_ROWS = 5_000
GOAL_ROWS, GOAL_SECONDS, GOAL_RSS_MB = 100_000, 60, 300
REPEAT_SHARE = 0.01
PROJECT_SLUG = "bench"

_ENGLISH_TEXT = (
    "explain the difference between a list and a tuple in python write a short poem about "
    "autumn rain summarize the following article for a busy reader translate this sentence "
    "into formal korean give three reasons why sleep matters describe how a bill becomes law"
)
_KOREAN_TEXT = (
    "다음 글을 세 문장으로 요약해 주세요 서울의 가을 날씨는 어떤가요 파이썬에서 리스트와 "
    "튜플의 차이를 설명해 주세요 건강한 아침 식사 메뉴를 추천해 주세요 이 문장을 영어로 번역하세요"
)
_ENGLISH, _KOREAN = tuple(_ENGLISH_TEXT.split()), tuple(_KOREAN_TEXT.split())


def run(quick: bool) -> dict[str, Any]:
    rows = QUICK_ROWS if quick else FULL_ROWS
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        workdir = Path(tmp)
        env = django_setup_throwaway(workdir)
        _project_create()
        path = workdir / "prompts.jsonl"
        written = prompts_file_write(path, rows)
        reference = child_run([sys.executable, "manage.py", "check"], env=env)
        command = ["manage.py", "import_prompts", "--project", PROJECT_SLUG, str(path)]
        child = child_run([sys.executable, *command], env=env)
        if child.returncode != 0:
            raise RuntimeError(f"import_prompts failed:\n{child.stderr[-4000:]}")
        stored = _stored_counts()
    if stored["prompts"] != written["unique"]:
        raise RuntimeError(f"expected {written['unique']} prompts, found {stored['prompts']}")
    return _figures(rows, quick, written, stored, child, reference.peak_rss_mb)


def _figures(rows, quick, written, stored, child, django_rss_mb) -> dict[str, Any]:
    rows_per_second = rows / child.seconds
    seconds_for_goal = GOAL_ROWS / rows_per_second
    return {
        "metric": "rows_per_second",
        "value": round(rows_per_second, 1),
        "baseline": round(GOAL_ROWS / GOAL_SECONDS, 1),  # the goal's own rate
        "goal": f"{GOAL_ROWS // 1000}k rows < {GOAL_SECONDS} s and peak RSS < {GOAL_RSS_MB} MB",
        "unit": "rows/s",
        "params": {
            "rows": rows,
            "quick": quick,
            "file_mb": written["file_mb"],
            "format": "jsonl (auto-detected)",
            "database": "SQLite, throwaway file, WAL",
            "command": f"manage.py import_prompts --project {PROJECT_SLUG} FILE",
        },
        "extra": {
            "seconds": round(child.seconds, 2),
            "cpu_seconds": child.cpu_seconds,
            "peak_rss_mb": child.peak_rss_mb,
            "django_check_peak_rss_mb": django_rss_mb,
            "imported": stored["prompts"],
            "demonstrations": stored["demonstrations"],
            "duplicates_in_file": written["rows"] - written["unique"],
            "summary": child.stdout.strip().splitlines()[-1],
            "seconds_for_100k_rows": round(seconds_for_goal, 1),
            "goal_met": seconds_for_goal < GOAL_SECONDS and child.peak_rss_mb < GOAL_RSS_MB,
            "baseline_note": "baseline is the goal's rate (100k rows in 60 s); ratio > 1 beats it",
        },
    }


def _project_create() -> None:
    from django.db import connections

    from labeling.services.projects import project_create

    project_create(name="Benchmark", slug=PROJECT_SLUG)
    connections.close_all()  # the child process writes; hold no connection meanwhile


def _stored_counts() -> dict[str, int]:
    from labeling.models import Demonstration, Prompt

    return {"prompts": Prompt.objects.count(), "demonstrations": Demonstration.objects.count()}


def prompts_file_write(path: Path, rows: int, seed: int = 0) -> dict[str, Any]:
    """Write `rows` records; a repeat differs from its original only in case and spacing."""
    rng = random.Random(seed)
    originals: list[dict[str, str]] = []
    with open(path, "w", encoding="utf-8") as file:
        for number in range(rows):
            if originals and rng.random() < REPEAT_SHARE:
                original = rng.choice(originals)
                record = {"instruction": "  " + original["instruction"].upper()}
                record["input"] = original.get("input", "")
            else:
                record = _record(rng, number)
                originals.append(record)
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {
        "rows": rows,
        "unique": len(originals),
        "file_mb": round(path.stat().st_size / 2**20, 1),
    }


def _record(rng: random.Random, number: int) -> dict[str, str]:
    korean = rng.random() < 0.4
    words = _KOREAN if korean else _ENGLISH
    record = {
        "instruction": f"{' '.join(rng.choices(words, k=rng.randint(6, 20)))} (#{number})",
        "category": rng.choice(["open_qa", "summarization", "translation", "creative"]),
        "language": "ko" if korean else "en",
    }
    if rng.random() < 0.4:
        record["input"] = " ".join(rng.choices(words, k=rng.randint(20, 120)))
    if rng.random() < 0.5:
        record["output"] = " ".join(rng.choices(words, k=rng.randint(20, 120)))
    return record
