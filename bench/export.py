"""Benchmark `manage.py export_dataset --format preference` on 1M preference pairs.

100k rank judgements (10k with --quick) by 20 annotators, each ranking K=5 completions of its
own prompt without ties: 10 pairs per judgement (K choose 2), 1M pairs in all. The rows are
bulk-inserted with plain SQL into a throwaway SQLite database (the setup is not measured);
the export then runs as its own process, so its wall time and peak RSS are what a user sees.
Goal: 1M pairs in under 30 s with peak RSS under 300 MB.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import child_run, django_setup_throwaway

FULL_JUDGEMENTS = 100_000
QUICK_JUDGEMENTS = 10_000
K = 5  # completions per ranking: K choose 2 = 10 pairs
ANNOTATORS = 20
GOAL_PAIRS, GOAL_SECONDS, GOAL_RSS_MB = 1_000_000, 30, 300
PROJECT_SLUG = "bench"
INSERT_BATCH = 20_000

_ENGLISH_TEXT = (
    "the a model answer explains why light bends water river city history simple clear because "
    "first then finally example people often think about small large quickly carefully "
    "important reason result method data table summary poem autumn rain sleep"
)
_KOREAN_TEXT = (
    "그리고 하지만 그래서 예를 들면 설명 이유 결과 방법 자료 요약 가을 비 잠 건강 아침 식사 "
    "메뉴 문장 영어 번역 서울 날씨 파이썬 리스트 튜플 차이 중요한 간단한 빠르게"
)
_ENGLISH, _KOREAN = tuple(_ENGLISH_TEXT.split()), tuple(_KOREAN_TEXT.split())


def run(quick: bool) -> dict[str, Any]:
    judgements = QUICK_JUDGEMENTS if quick else FULL_JUDGEMENTS
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        workdir = Path(tmp)
        env = django_setup_throwaway(workdir)
        started = time.perf_counter()
        generated = data_generate(judgements)
        setup_seconds = time.perf_counter() - started
        reference = child_run([sys.executable, "manage.py", "check"], env=env)
        out = workdir / "snapshot"
        command = [
            "manage.py",
            "export_dataset",
            "--project",
            PROJECT_SLUG,
            "--format",
            "preference",
            "--out",
            str(out),
        ]
        child = child_run([sys.executable, *command], env=env)
        if child.returncode != 0:
            raise RuntimeError(f"export_dataset failed:\n{child.stderr[-4000:]}")
        manifest = json.loads((out / "manifest.json").read_text())
        files_mb = sum(path.stat().st_size for path in out.glob("*.jsonl")) / 2**20
    pairs = sum(manifest["rows"].values())
    if pairs != generated["pairs"]:
        raise RuntimeError(f"expected {generated['pairs']} pairs, the export has {pairs}")
    measured = {"setup_seconds": setup_seconds, "files_mb": files_mb}
    return _figures(quick, generated, manifest, child, reference.peak_rss_mb, measured)


def _figures(quick, generated, manifest, child, django_rss_mb, measured) -> dict:
    pairs = generated["pairs"]
    pairs_per_second = pairs / child.seconds
    seconds_for_goal = GOAL_PAIRS / pairs_per_second
    return {
        "metric": "pairs_per_second",
        "value": round(pairs_per_second, 1),
        "baseline": round(GOAL_PAIRS / GOAL_SECONDS, 1),  # the goal's own rate
        "goal": f"{GOAL_PAIRS // 1000}k pairs < {GOAL_SECONDS} s and peak RSS < {GOAL_RSS_MB} MB",
        "unit": "pairs/s",
        "params": {
            "judgements": generated["judgements"],
            "completions_per_ranking": K,
            "pairs": pairs,
            "annotators": ANNOTATORS,
            "quick": quick,
            "format": "preference (conversational JSONL), rule all",
            "database": "SQLite, throwaway file, WAL",
            "command": f"manage.py export_dataset --project {PROJECT_SLUG} --format preference "
            "--out DIR",
        },
        "extra": {
            "seconds": round(child.seconds, 2),
            "cpu_seconds": child.cpu_seconds,
            "peak_rss_mb": child.peak_rss_mb,
            "django_check_peak_rss_mb": django_rss_mb,
            "files_mb": round(measured["files_mb"], 1),
            "rows": manifest["rows"],
            "duplicates": manifest["duplicates"],
            "personal_data": manifest["personal_data"],
            "setup_seconds": round(measured["setup_seconds"], 1),
            "summary": child.stdout.strip().splitlines()[0] if child.stdout.strip() else "",
            "seconds_for_1m_pairs": round(seconds_for_goal, 1),
            "goal_met": seconds_for_goal < GOAL_SECONDS and child.peak_rss_mb < GOAL_RSS_MB,
            "baseline_note": "baseline is the goal's rate (1M pairs in 30 s); ratio > 1 beats it",
        },
    }


def data_generate(judgements: int, seed: int = 0) -> dict[str, int]:
    """One prompt per judgement, K completions each, one full ranking each (plain SQL)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, connections, transaction

    from labeling.models import Assignment, Judgement
    from labeling.services.projects import project_create

    project = project_create(name="Benchmark", slug=PROJECT_SLUG, completions_per_prompt=K)
    context = {
        "project_id": project.pk,
        "version_id": project.model_versions.get(number=0).pk,
        "annotators": [
            user.pk
            for user in get_user_model().objects.bulk_create(
                [get_user_model()(username=f"annotator{n}") for n in range(ANNOTATORS)]
            )
        ],
        "now": datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "rng": random.Random(seed),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, judgements, INSERT_BATCH):
            _batch_insert(cursor, context, range(start, min(start + INSERT_BATCH, judgements)))
    connections.close_all()  # the child process reads; hold no connection meanwhile
    assert Judgement.objects.count() == Assignment.objects.count() == judgements
    return {"judgements": judgements, "pairs": judgements * K * (K - 1) // 2}


def _batch_insert(cursor, context: dict, numbers: range) -> None:
    """Prompts, their K completions, and one submitted rank assignment + judgement each."""
    from labeling.models import Assignment, Completion, Judgement, Prompt
    from labeling.normalize import prompt_dedupe_key

    rng, now = context["rng"], context["now"]
    prompts = [_prompt(rng, number) for number in numbers]
    first_prompt = _insert(
        cursor,
        Prompt,
        [
            {
                "project_id": context["project_id"],
                "instruction": text,
                "input": "",
                "category": "open_qa",
                "language": language,
                "source": "bench",
                "metadata": "{}",
                "history": "[]",
                "drafted_by": "",
                "dedupe_key": prompt_dedupe_key(instruction=text),
                "created_at": now,
            }
            for text, language in prompts
        ],
    )
    first_completion = _insert(
        cursor,
        Completion,
        [
            {
                "prompt_id": first_prompt + offset,
                "model_version_id": context["version_id"],
                "text": _text(rng, language),
                "request_id": "",
                "index": k,
                "sampling_params": "{}",
                "finish_reason": "stop",
                "is_synthetic": True,
                "drafted_by": "",
                "created_at": now,
            }
            for offset, (_, language) in enumerate(prompts)
            for k in range(K)
        ],
    )
    rankings = []
    for offset in range(len(prompts)):
        ids = [first_completion + offset * K + k for k in range(K)]
        rng.shuffle(ids)
        rankings.append(ids)
    annotators = [rng.choice(context["annotators"]) for _ in prompts]
    first_assignment = _insert(
        cursor,
        Assignment,
        [
            {
                "project_id": context["project_id"],
                "prompt_id": first_prompt + offset,
                "annotator_id": annotators[offset],
                "kind": "rank",
                "status": "submitted",
                "token": uuid.uuid4().hex,
                "completion_ids": json.dumps(ranking),
                "expires_at": now,
                "skip_reason": "",
                "created_at": now,
                "submitted_at": now,
                "time_spent_ms": 30_000,
            }
            for offset, ranking in enumerate(rankings)
        ],
    )
    _insert(
        cursor,
        Judgement,
        [
            {
                "assignment_id": first_assignment + offset,
                "prompt_id": first_prompt + offset,
                "annotator_id": annotators[offset],
                "kind": "rank",
                "outcome": "ranked",
                "ranking": json.dumps([[pk] for pk in ranking]),
                "choice": "",
                "reason": "",
                "time_spent_ms": 30_000,
                "created_at": now,
            }
            for offset, ranking in enumerate(rankings)
        ],
    )


def _insert(cursor, model, rows: list[dict]) -> int:
    """INSERT the rows (all with the same keys: column names); returns the first new id."""
    table = model._meta.db_table
    columns = list(rows[0])
    quoted = ", ".join(f'"{column}"' for column in columns)
    marks = ", ".join(["%s"] * len(columns))
    cursor.executemany(
        f"INSERT INTO {table} ({quoted}) VALUES ({marks})",
        [tuple(row[column] for column in columns) for row in rows],
    )
    return _last_id(cursor, model) - len(rows) + 1


def _last_id(cursor, model) -> int:
    cursor.execute(f"SELECT MAX(id) FROM {model._meta.db_table}")
    return cursor.fetchone()[0]


def _prompt(rng: random.Random, number: int) -> tuple[str, str]:
    korean = rng.random() < 0.4
    words = _KOREAN if korean else _ENGLISH
    text = f"{' '.join(rng.choices(words, k=rng.randint(8, 20)))} (#{number})"
    return text, "ko" if korean else "en"


def _text(rng: random.Random, language: str) -> str:
    words = _KOREAN if language == "ko" else _ENGLISH
    text = " ".join(rng.choices(words, k=rng.randint(12, 40))) + "."
    if rng.random() < 0.002:  # a little personal data for the scrubber to find
        text += f" Write to user{rng.randrange(1000)}@example.com."
    return text
