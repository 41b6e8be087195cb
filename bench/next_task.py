"""`python -m bench next_task`: server time from one submission to the next task rendered.

Each size runs in its own child process on its own throwaway SQLite database: a project with
N prompts, n=4 completions each, overlap 3, every task kind enabled, and the first half of it
already done by 60 earlier annotators (queue items full, their assignments and judgements in
place). Ten annotators then take turns: submit the current task (a valid payload of its kind),
task_next, task_view, annotator_progress, and render labeling/workspace/task.html (when the
workspace has it) the way the workspace view does. The figure is that sequence's p95; the
baseline is the same at the small size, so `ratio` says whether it grows with the project.

`generation_status` (the pre-generation selector the workspace view also calls per render)
is timed on its own and reported beside the figures: it is not part of the queue.

`--selection order|random|uncertainty` sets the project's prompt selection; for uncertainty
every prompt has a stored uncertainty of the live version (a spread of scores, as the
generation worker leaves them), so the queue orders by it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

SIZES = (1_000, 100_000)
QUICK_SIZES = (1_000, 5_000)
ITERATIONS = 600
QUICK_ITERATIONS = 150
ACTIVE_ANNOTATORS = 10
HISTORY_ANNOTATORS = 60
OVERLAP = 3
COMPLETIONS_PER_PROMPT = 4
DONE_SHARE = 0.5
GOAL_P95_MS = 50.0
GOAL_RATIO = 1.5


def options(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench next_task")
    parser.add_argument(
        "--selection",
        choices=("order", "random", "uncertainty"),
        default="order",
        help="The project's prompt selection (how the queue orders the prompts).",
    )
    return {"selection": parser.parse_args(argv).selection}


def run(quick: bool, selection: str = "order") -> dict:
    """Measure each size in a child process; the largest size's p95 against the smallest's."""
    from bench.common import child_run

    sizes = QUICK_SIZES if quick else SIZES
    iterations = QUICK_ITERATIONS if quick else ITERATIONS
    per_size = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-next-task-") as workdir:
            args = [sys.executable, "-m", "bench.next_task", "--measure", str(size)]
            args += ["--iterations", str(iterations), "--workdir", workdir]
            args += ["--selection", selection]
            child = child_run(args, env=dict(os.environ))
        if child.returncode != 0:
            raise RuntimeError(f"next_task at {size} prompts failed:\n{child.stderr[-4000:]}")
        per_size[size] = json.loads(child.stdout.strip().splitlines()[-1])
    small, large = per_size[sizes[0]], per_size[sizes[-1]]
    ratio = large["p95_ms"] / small["p95_ms"]
    return {
        "metric": f"p95 ms from submit to the next task rendered, {sizes[-1]:,} prompts",
        "value": large["p95_ms"],
        "baseline": small["p95_ms"],
        "goal": f"p95 < {GOAL_P95_MS:g} ms and at most {GOAL_RATIO:g}x the {sizes[0]:,}-prompt p95",
        "unit": "ms",
        "params": {
            "sizes": list(sizes),
            "iterations": iterations,
            "overlap": OVERLAP,
            "completions_per_prompt": COMPLETIONS_PER_PROMPT,
            "done_share": DONE_SHARE,
            "active_annotators": ACTIVE_ANNOTATORS,
            "history_annotators": HISTORY_ANNOTATORS,
            "database": "SQLite (WAL), one process",
            "selection": selection,
            "quick": quick,
        },
        "met": large["p95_ms"] < GOAL_P95_MS and ratio <= GOAL_RATIO,
        "per_size": {str(size): figures for size, figures in per_size.items()},
        **({} if selection == "order" else {"result_name": f"next_task.{selection}"}),
    }


# --- the child: build one project, then measure -------------------------------------------


def _measure(size: int, iterations: int, workdir: Path, selection: str = "order") -> dict:
    """In the child: build the project of `size` prompts, then time `iterations` turns."""
    os.environ.setdefault("SECURE_HTTPS", "0")
    from bench.common import django_setup_throwaway, percentile

    django_setup_throwaway(workdir)
    started = time.perf_counter()
    project, annotators = _build(size, selection)
    setup_s = time.perf_counter() - started
    render = _renderer(project)
    from labeling.selectors.queue import annotator_progress, task_view
    from labeling.services.queue import rng, task_next

    rng.seed(size)
    current = {user.pk: task_next(annotator=user, project=project) for user in annotators}
    timings, cpu_timings, kinds = [], [], []
    for i in range(iterations):
        user = annotators[i % len(annotators)]
        assignment = current[user.pk]
        started, cpu_started = time.perf_counter(), time.process_time()
        if assignment is not None:
            _submit(assignment, user, i)
        assignment = task_next(annotator=user, project=project)
        if assignment is not None:
            view = task_view(assignment=assignment)
            progress = annotator_progress(annotator=user, project=project)
            if render is not None:
                render(user, view, progress)
        timings.append((time.perf_counter() - started) * 1000)
        cpu_timings.append((time.process_time() - cpu_started) * 1000)
        current[user.pk] = assignment
        kinds.append(assignment.kind if assignment else "none")
    return {
        "prompts": size,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "max_ms": round(max(timings), 2),
        # CPU time of this process alone: what the figures are without other load on the host
        "cpu_p50_ms": round(statistics.median(cpu_timings), 2),
        "cpu_p95_ms": round(percentile(cpu_timings, 95), 2),
        "load_average": os.getloadavg(),
        "iterations": iterations,
        "rendered": render is not None,
        "kinds": {kind: kinds.count(kind) for kind in sorted(set(kinds))},
        "generation_status_ms": _generation_status_ms(project),
        "setup_s": round(setup_s, 1),
    }


def _submit(assignment, user, i: int) -> None:
    """Submit a valid answer of the assignment's kind, as the workspace form would."""
    from labeling.models import TaskKind
    from labeling.services.queue import (
        continuation_submit,
        demonstration_submit,
        judgement_submit,
    )

    ids = assignment.completion_ids
    token = assignment.token
    if assignment.kind == TaskKind.RANK:
        ranking = [[ids[0]], ids[1:3], *[[pk] for pk in ids[3:]]]
        judgement_submit(token=token, annotator=user, ranking=ranking, time_spent_ms=9000)
    elif assignment.kind == TaskKind.COMPARE:
        judgement_submit(token=token, annotator=user, choice="a", time_spent_ms=5000)
    elif assignment.kind == TaskKind.RATE:
        ratings = {pk: {"thumb": "up", "helpful": 4, "flags": []} for pk in ids}
        judgement_submit(token=token, annotator=user, ratings=ratings, time_spent_ms=7000)
    elif assignment.kind == TaskKind.CONTINUE:
        turn = f"Go on about point {i} ({uuid.uuid4()})."
        continuation_submit(token=token, annotator=user, turn=turn, time_spent_ms=20000)
    elif assignment.kind == TaskKind.WRITE:
        demonstration_submit(
            token=token,
            annotator=user,
            instruction=f"Benchmark instruction {i} {uuid.uuid4()}",
            output="A written answer.",
            time_spent_ms=60000,
        )
    else:
        demonstration_submit(
            token=token, annotator=user, output=f"An answer, edited {i}.", time_spent_ms=30000
        )


def _renderer(project):
    """render(user, view, progress) building the context as the workspace view does, or None
    when the workspace's template or forms are not there (then only the services count)."""
    try:
        from django.template.loader import get_template
        from django.test import RequestFactory
        from django_htmx.middleware import HtmxDetails

        from labeling.kinds import kind_of

        template = get_template("labeling/workspace/task.html")
    except Exception as error:  # the workspace is someone else's, maybe not there yet
        print(f"rendering skipped: {error!r}", file=sys.stderr)
        return None
    factory = RequestFactory()
    # The view also calls generation_status per render; it is timed separately.
    generation = {"server_up": True, "retry_at": None, "buffered": 0, "target": 0}

    def render(user, view, progress):
        """The task fragment for this view, as the workspace view renders it for htmx."""
        request = factory.post(f"/p/{project.slug}/", HTTP_HX_REQUEST="true")
        request.user = user
        request.htmx = HtmxDetails(request)
        form = kind_of(view.kind).form.for_task(view)
        context = {
            "project": project,
            "task": view,
            "form": form,
            "rows": form.rows(view.completions),
            "errors": [],
            "unsaved": [],
            "skip_open": False,
            "progress": progress,
            "generation": generation,
            "is_fragment": True,
        }
        return template.render(context, request)

    return render


def _generation_status_ms(project) -> float | None:
    """One call of generation_status (the workspace view makes it on every render)."""
    try:
        from labeling.selectors.generation import generation_status

        started = time.perf_counter()
        generation_status(project)
        return round((time.perf_counter() - started) * 1000, 2)
    except Exception as error:
        print(f"generation_status not timed: {error!r}", file=sys.stderr)
        return None


def _build(size: int, selection: str = "order"):
    """The project, its prompts and completions, and half of it already judged, inserted with
    explicit ids straight into the tables (the ORM would take minutes at 100k prompts), the
    queue's bookkeeping filled in as the services would have left it."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from labeling.models import Completion, Prompt, PromptUncertainty
    from labeling.services.projects import project_create, project_update

    User = get_user_model()
    past = timezone.now() - timedelta(hours=1)
    n = COMPLETIONS_PER_PROMPT
    with transaction.atomic():
        project = project_create(
            name="Bench",
            slug="bench",
            overlap=OVERLAP,
            completions_per_prompt=n,
            guidelines="Prefer the answer that is **correct**, then the one that is clear.",
        )
        live = project.model_versions.get(status="live")
        User.objects.bulk_create(
            [User(username=f"bench{i}") for i in range(ACTIVE_ANNOTATORS + HISTORY_ANNOTATORS)]
        )
        users = list(User.objects.filter(username__startswith="bench").order_by("pk"))
        prompt_ids = range(1, size + 1)
        text = "Benchmark prompt {}: explain one idea in two sentences."
        prompts = (
            {
                "id": i,
                "project": project.pk,
                "instruction": text.format(i),
                "input": "",
                "category": "",
                "language": "",
                "source": "bench",
                "metadata": {},
                "history": [],
                "drafted_by": "",
                "dedupe_key": hashlib.sha256(str(i).encode()).hexdigest(),
                "created_at": past,
            }
            for i in prompt_ids
        )
        _insert(Prompt, prompts)
        completions = (
            {
                "id": (i - 1) * n + k + 1,
                "prompt": i,
                "model_version": live.pk,
                "text": f"Completion {k} of prompt {i}. " * 8,
                "request_id": "",
                "index": k,
                "sampling_params": {},
                "is_synthetic": True,
                "drafted_by": "",
                "finish_reason": "stop",
                "created_at": past,
            }
            for i in prompt_ids
            for k in range(n)
        )
        _insert(Completion, completions)
        project = project_update(project=project, prompt_selection=selection)
        if selection == "uncertainty":
            scores = (
                {
                    "id": i,
                    "prompt": i,
                    "model_version": live.pk,
                    "completions_spread": (i * 7919 % 1000) / 1000,
                    "votes_split": None,
                    "score": (i * 7919 % 1000) / 1000,
                    "updated_at": past,
                }
                for i in prompt_ids
            )
            _insert(PromptUncertainty, scores)
        _history(project, live, prompt_ids[: int(size * DONE_SHARE)], users[ACTIVE_ANNOTATORS:])
    return project, users[:ACTIVE_ANNOTATORS]


def _insert(model, rows) -> None:
    """executemany of rows given as {field name: value}, adapted as the ORM would store them."""
    from django.db import connection

    batch, sql, adapters = [], None, None
    with connection.cursor() as cursor:
        for row in rows:
            if sql is None:
                fields = [model._meta.get_field(name) for name in row]
                columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
                marks = ", ".join(["%s"] * len(fields))
                sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({marks})"
                adapters = [_adapter(field) for field in fields]
            batch.append(
                [adapt(value) for adapt, value in zip(adapters, row.values(), strict=True)]
            )
            if len(batch) == 5000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def _adapter(field):
    """How the ORM would turn a Python value of this field into a database value."""
    from django.db import connection

    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return connection.ops.adapt_datetimefield_value
    if kind == "JSONField":
        return lambda value: None if value is None else json.dumps(value)
    if kind == "UUIDField":
        return lambda value: value.hex
    return lambda value: value


def _history(project, live, done_prompt_ids, annotators) -> None:
    """The done half: full queue items, three submitted assignments each, their judgements,
    and cursors past them, as task_next and the submissions would have left them."""
    from django.utils import timezone

    from labeling.kinds import completion_kinds, judgement_kinds
    from labeling.models import Assignment, Judgement, QueueCursor, QueueItem, TaskKind
    from labeling.selectors.selection import shuffle_key

    if not done_prompt_ids:
        return
    kinds = [TaskKind.ANSWER, *completion_kinds()]
    n = COMPLETIONS_PER_PROMPT
    done_at = timezone.now() - timedelta(days=1)
    items, assignments, judgements = [], [], []
    for prompt_id in done_prompt_ids:
        completion_ids = [(prompt_id - 1) * n + k + 1 for k in range(n)]
        for kind in kinds:
            item_id = len(items) + 1
            items.append(
                {
                    "id": item_id,
                    "project": project.pk,
                    "prompt": prompt_id,
                    "kind": kind,
                    "model_version": None if kind == TaskKind.ANSWER else live.pk,
                    "taken": OVERLAP,
                    "uncertainty": 0.0,
                    "shuffle": shuffle_key(project_id=project.pk, prompt_id=prompt_id),
                    "created_at": done_at,
                }
            )
            shown = _shown(kind, completion_ids)
            left, right = (shown[0], shown[1]) if kind == TaskKind.COMPARE else (None, None)
            for j in range(OVERLAP):
                assignment = {
                    "id": len(assignments) + 1,
                    "project": project.pk,
                    "prompt": prompt_id,
                    "item": item_id,
                    "annotator": annotators[(item_id * OVERLAP + j) % len(annotators)].pk,
                    "kind": kind,
                    "status": Assignment.Status.SUBMITTED,
                    "token": uuid.uuid4(),
                    "completion_ids": shown,
                    "left_completion": left,
                    "right_completion": right,
                    "expires_at": done_at,
                    "skip_reason": "",
                    "created_at": done_at,
                    "submitted_at": done_at,
                    "time_spent_ms": 8000,
                }
                assignments.append(assignment)
                if kind in judgement_kinds():
                    judgements.append(
                        {
                            "assignment": assignment["id"],
                            "prompt": prompt_id,
                            "annotator": assignment["annotator"],
                            "kind": kind,
                            "left_completion": left,
                            "right_completion": right,
                            "reason": "",
                            "time_spent_ms": 8000,
                            "created_at": done_at,
                            **_verdict(kind, shown),
                        }
                    )
    _insert(QueueItem, items)
    _insert(Assignment, assignments)
    _insert(Judgement, judgements)
    last_prompt = done_prompt_ids[-1]
    for kind in kinds:
        position = last_prompt if kind == TaskKind.ANSWER else last_prompt * n
        QueueCursor.objects.create(
            project=project,
            kind=kind,
            model_version=None if kind == TaskKind.ANSWER else live,
            position=position,
            seen=position,
        )


def _shown(kind: str, completion_ids: list[int]) -> list[int]:
    """The completions a task of `kind` shows, as task_next would have picked them."""
    from labeling.models import TaskKind

    if kind == TaskKind.COMPARE:
        return completion_ids[:2]
    if kind in (TaskKind.EDIT, TaskKind.CONTINUE):
        return completion_ids[:1]
    if kind == TaskKind.ANSWER:
        return []
    return completion_ids


def _verdict(kind: str, shown: list[int]) -> dict:
    """The judgement columns a submission of this kind leaves (all of them, for executemany)."""
    from labeling.models import Judgement, TaskKind

    verdict = {"outcome": Judgement.Outcome.RATED, "ranking": None, "choice": "", "ratings": None}
    if kind == TaskKind.RANK:
        return {**verdict, "outcome": Judgement.Outcome.RANKED, "ranking": [[pk] for pk in shown]}
    if kind == TaskKind.COMPARE:
        return {**verdict, "outcome": Judgement.Outcome.CHOICE, "choice": Judgement.Choice.A}
    return {**verdict, "ratings": {str(pk): {"thumb": "up", "flags": []} for pk in shown}}


def main() -> None:
    """`python -m bench.next_task --measure N --workdir DIR`: one size, JSON on stdout."""
    parser = argparse.ArgumentParser(description="One size of the next_task benchmark.")
    parser.add_argument("--measure", type=int, required=True, help="prompts in the project")
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--selection", default="order")
    args = parser.parse_args()
    print(json.dumps(_measure(args.measure, args.iterations, args.workdir, args.selection)))


if __name__ == "__main__":
    main()
