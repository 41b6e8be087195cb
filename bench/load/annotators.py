"""Simulated annotators over HTTP: each a thread with an httpx client and an API token."""

import contextlib
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

SENDS = 20  # sends of one request while the server errs or the connection drops
REQUEST_TIMEOUT_S = 120.0
PROGRESS_S = 30.0


@dataclass
class LoadOutcome:
    """What the annotators saw: every answer's status and time, what the server accepted."""

    target: int
    accepted: dict[str, int] = field(default_factory=dict)  # task token -> judgement id
    duplicate_accepts: int = 0  # one token accepted as two different judgements
    statuses: Counter = field(default_factory=Counter)  # (endpoint, status); 0: no answer
    latencies_ms: dict[str, list[float]] = field(
        default_factory=lambda: {"next": [], "submit": [], "submit_to_next": []}
    )  # every answer's time, by endpoint; submit_to_next: each turn, retries included
    refusals: Counter = field(default_factory=Counter)  # refusal codes of 4xx answers
    ran_dry: int = 0  # annotators told there was no task left for them
    errors: list[str] = field(default_factory=list)  # annotators who gave up, and why
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answered(self, endpoint: str, status: int, ms: float) -> None:
        with self.lock:
            self.statuses[(endpoint, status)] += 1
            self.latencies_ms[endpoint].append(ms)

    def turn(self, ms: float) -> None:
        with self.lock:
            self.latencies_ms["submit_to_next"].append(ms)

    def accept(self, token: str, judgement_id: int) -> None:
        with self.lock:
            if self.accepted.setdefault(token, judgement_id) != judgement_id:
                self.duplicate_accepts += 1

    def note(self, *, refusal: str | None = None, error: str | None = None, dry=False) -> None:
        with self.lock:
            if refusal is not None:
                self.refusals[refusal] += 1
            if error is not None:
                self.errors.append(error)
            self.ran_dry += dry


class _Quota:
    """Judgements still to be had: an annotator books one before asking for a task and
    gives it back if that task brings none, so exactly `target` are submitted."""

    def __init__(self, target: int):
        self.left, self.lock = target, threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left == 0:
                return False
            self.left -= 1
            return True

    def give_back(self) -> None:
        with self.lock:
            self.left += 1


def annotators_run(
    *,
    base_url: str,
    slug: str,
    tokens: list[str],
    judgements: int,
    seed: int = 0,
    verdict: Callable[[dict, random.Random], dict] | None = None,
    wait_when_dry_s: float = 0.0,
    progress: bool = False,
) -> LoadOutcome:
    """One thread per token asking and submitting until `judgements` are accepted (or the
    queue runs dry); Ctrl-C stops them after their current request.

    `verdict(task, rnd)` is the judgement payload (default: verdict_of, any valid one). An
    annotator told there is no task asks again each second for up to `wait_when_dry_s`
    (work may be on its way, as pre-generation refills the queue) before it stops. With
    `progress`, the count so far goes to stderr every PROGRESS_S."""
    outcome, quota, stop = LoadOutcome(target=judgements), _Quota(judgements), threading.Event()
    threads = [
        threading.Thread(
            target=_annotate,
            kwargs={
                "client": httpx.Client(
                    base_url=base_url,
                    headers={"Authorization": f"Token {token}"},
                    timeout=REQUEST_TIMEOUT_S,
                ),
                "slug": slug,
                "quota": quota,
                "outcome": outcome,
                "rnd": random.Random(f"{seed}-{i}"),
                "verdict": verdict or verdict_of,
                "wait_when_dry_s": wait_when_dry_s,
                "stop": stop,
            },
            daemon=True,
        )
        for i, token in enumerate(tokens)
    ]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        shown = started
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=1.0)
                if progress and time.perf_counter() - shown >= PROGRESS_S:
                    shown, done = time.perf_counter(), len(outcome.accepted)
                    rate = done / (shown - started)
                    print(f"{done}/{judgements} judgements, {rate:.1f}/s", file=sys.stderr)
    finally:
        stop.set()
        outcome.seconds = time.perf_counter() - started
    return outcome


def _annotate(
    *, client: httpx.Client, slug: str, quota: _Quota, outcome, rnd, verdict, wait_when_dry_s, stop
) -> None:
    """One annotator: ask, submit a judgement of the task, ask again, as fast as the server
    answers."""
    submitted_at = None  # when the last judgement was sent: its turn ends with the next task
    dry_since = None
    try:
        with client:
            while not stop.is_set() and quota.take():
                answer = _send(client, outcome, "next", "GET", f"/api/projects/{slug}/task/")
                if answer is None or answer.status_code != 200:
                    quota.give_back()
                    outcome.note(error=f"task next: {_said(answer)}")
                    return
                task = answer.json()["task"]
                if task is None:  # nothing for this annotator now
                    quota.give_back()
                    submitted_at, dry_since = None, dry_since or time.monotonic()
                    if time.monotonic() - dry_since < wait_when_dry_s:
                        stop.wait(1.0)
                        continue
                    outcome.note(dry=True)
                    return
                if submitted_at is not None:
                    outcome.turn((time.perf_counter() - submitted_at) * 1000)
                submitted_at, dry_since = time.perf_counter(), None
                path = f"/api/tasks/{task['token']}/judgement/"
                answer = _send(client, outcome, "submit", "POST", path, json=verdict(task, rnd))
                if answer is not None and answer.status_code == 201:
                    outcome.accept(task["token"], answer.json()["id"])
                else:
                    quota.give_back()
                    outcome.note(refusal=_said(answer))
    except Exception as error:  # reported with the figures; the others carry on
        quota.give_back()
        outcome.note(error=repr(error))


def _send(
    client: httpx.Client, outcome: LoadOutcome, endpoint: str, method: str, path: str, json=None
) -> httpx.Response | None:
    """The request, sent again (as a browser's user would) while the server answers 5xx or
    429 or the connection fails; None when it never got through."""
    for attempt in range(SENDS):
        started = time.perf_counter()
        try:
            answer = client.request(method, path, json=json)
        except httpx.TransportError:
            outcome.answered(endpoint, 0, (time.perf_counter() - started) * 1000)
        else:
            outcome.answered(endpoint, answer.status_code, (time.perf_counter() - started) * 1000)
            if answer.status_code < 500 and answer.status_code != 429:
                return answer
        time.sleep(min(2.0, 0.05 * 2**attempt))
    return None


def _said(answer: httpx.Response | None) -> str:
    """A refusal's code ("slot_taken"), else the status and what the server said (a field
    error); "no answer" if none came."""
    if answer is None:
        return "no answer"
    with contextlib.suppress(ValueError, AttributeError, KeyError, TypeError):
        return str(answer.json()["code"])
    return f"{answer.status_code} {answer.text[:300]}"


def verdict_of(task: dict, rnd: random.Random) -> dict:
    """A valid judgement of the task as the API takes it: a ranking (ties now and then), a
    choice, or a thumb and a helpfulness score for each completion."""
    ids = [completion["id"] for completion in task["completions"]]
    payload = {"time_spent_ms": rnd.randint(2_000, 60_000)}
    if task["kind"] == "rank":
        rnd.shuffle(ids)
        ranking = [[pk] for pk in ids]
        if len(ranking) > 2 and rnd.random() < 0.2:
            ranking[1:3] = [ranking[1] + ranking[2]]  # a tie
        return {**payload, "ranking": ranking}
    if task["kind"] == "compare":
        return {**payload, "choice": rnd.choices(["a", "b", "tie", "both_bad"], [4, 4, 1, 1])[0]}
    if task["kind"] == "rate":
        ratings = {
            str(pk): {"thumb": rnd.choice(["up", "down"]), "helpful": rnd.randint(1, 5)}
            for pk in ids
        }
        return {**payload, "ratings": ratings}
    raise ValueError(f"the load project has no {task['kind']} tasks")
