"""`python -m bench loop`: does the loop make the served model better by the annotators' own
standard, round after round? Simulated annotators, real everything else.

**The hidden preference.** The simulated annotators like answers laid out as a list: an answer
scores one point for a list (two or more lines that begin with "- ", "* ", "• " or "1." style
numbers) and one for opening with a one-line summary (a first line of at most 25 words that
is not itself a list item, followed by a line break). A rank task is ordered by that score
(equal scores tie; "none acceptable" when no answer scores), a compare task goes to the higher
score (equal: "tie" when both score, else "both bad"). It is checkable by a regular
expression, a small model can learn it from a few hundred judgements, and it is not "longer":
a long paragraph scores nothing. The bundled model, asked the bench's prompts, meets the whole
preference in about 10% of its sampled answers (a list alone: 32%). Each annotator flips
`FLIP_RATE` of their verdicts (a rank reversed, a choice swapped), as people err.

**What runs.** The app under gunicorn on a throwaway SQLite database, the real vLLM server on
the bundled model, the real generation worker (`manage.py db_worker --queue-name generation`)
refilling completions of the live version. The annotators work through the HTTP API (rank
and compare tasks, four accounts, each prompt judged by all four). Each round the admin's
services do the rest: a preference export of the live version's judged completions (the
default rule, held-out split), a DPO run from the live version (the preset, LoRA), the
better-than-parent gate, publish (hot-load into vLLM) when the gate says
better, then the generation worker answers the next round's prompts with the new version, and
the next round's compare tasks pit it against the version it replaced (its head-to-head).

**What is measured**, each round, on held-out prompts no annotator saw: the share of the live
version's sampled completions (n per prompt, the project's sampling) that meet the whole
preference (both points); the head-to-head win rate of the round's version over its parent from
the simulated votes (the next round's compare tasks; after the last round, a compare-only
phase), with its Wilson 95% interval; the judgements used; the seconds of each phase.

Goals on a 2-core CPU (issue 15): the share rises every round and by 30 points after 3 rounds
of at most 200 judgements; every published version wins >= 60% of head-to-heads with the
interval's lower bound above 50%; from the last judgement of a round to the first completion
of the new version in at most 10 minutes. `--quick` is one small round, a smoke run.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from bench.common import RESULTS_DIR, ROOT

FLIP_RATE = 0.10
HELD_OUT_SPLIT = (0.8, 0.2, 0.0)  # train, validation (the gate's), test
MORE_JUDGING_TRIES = 3  # rounds whose export is too small to train judge more, at most so often
WAIT_FOR_WORK_S = 1800.0  # how long annotators wait for the generation worker's completions
SUMMARY_MAX_WORDS = 25
GOAL_SHARE_GAIN = 0.30
GOAL_WIN_RATE = 0.60
GOAL_ROUND_SECONDS = 600.0


# --- the hidden preference -----------------------------------------------------------------------

_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+\S", re.M)


def preference_score(text: str) -> int:
    """0-2: a point for a list (two or more list lines), a point for a one-line summary
    first (at most SUMMARY_MAX_WORDS words, not a list item, a line break after it)."""
    text = text.strip()
    has_list = len(_LIST_LINE.findall(text)) >= 2
    first, newline, _rest = text.partition("\n")
    summary = (
        bool(newline)
        and 0 < len(first.split()) <= SUMMARY_MAX_WORDS
        and not _LIST_LINE.match(first)
    )
    return int(has_list) + int(summary)


def preferred(text: str) -> bool:
    """Meets the whole preference: what the held-out share counts."""
    return preference_score(text) == 2


def verdict_of(task: dict, rnd: random.Random, *, flip_rate: float = FLIP_RATE) -> dict:
    """The simulated annotator's judgement of a rank or compare task, by the hidden
    preference, flipped at `flip_rate`."""
    payload: dict[str, Any] = {"time_spent_ms": rnd.randint(3_000, 40_000)}
    flip = rnd.random() < flip_rate
    if task["kind"] == "rank":
        by_score: dict[int, list[int]] = {}
        for completion in task["completions"]:
            by_score.setdefault(preference_score(completion["text"]), []).append(completion["id"])
        if set(by_score) == {0} and not flip:
            return {**payload, "outcome": "none_acceptable", "reason": "no summary, no list"}
        ranking = [by_score[score] for score in sorted(by_score, reverse=not flip)]
        return {**payload, "ranking": ranking}
    if task["kind"] == "compare":
        left = preference_score(task["left"]["text"])
        right = preference_score(task["right"]["text"])
        if left == right:
            return {**payload, "choice": "tie" if left else "both_bad"}
        return {**payload, "choice": "a" if (left > right) != flip else "b"}
    raise ValueError(f"the loop project has no {task['kind']} tasks")


# --- prompts -------------------------------------------------------------------------------------

TOPICS = (
    "saving money",
    "learning to cook",
    "staying healthy",
    "studying for exams",
    "writing a cover letter",
    "planting a vegetable garden",
    "training a puppy",
    "running a team meeting",
    "learning Python",
    "travelling on a budget",
    "sleeping better",
    "reducing stress at work",
    "cleaning a kitchen",
    "starting a blog",
    "reading more books",
    "making friends in a new city",
    "preparing for a job interview",
    "learning to swim",
    "organizing a closet",
    "baking bread",
    "running a first 5k",
    "keeping houseplants alive",
    "learning a new language",
    "giving a good presentation",
    "writing a short story",
    "buying a used car",
    "moving to a new apartment",
    "planning a birthday party",
    "taking better photos",
    "drinking more water",
    "learning to draw",
    "starting to meditate",
    "decluttering a desk",
    "cooking for one",
    "staying focused while studying",
    "making a monthly budget",
    "camping for the first time",
    "learning chess",
    "caring for a cat",
    "writing clear emails",
    "speaking up in meetings",
    "eating less sugar",
    "keeping a journal",
    "fixing a bicycle tyre",
    "brewing good coffee",
    "hosting a dinner",
    "preparing for a long flight",
    "getting up early",
    "teaching a child to read",
    "painting a room",
    "choosing a laptop",
    "working from home",
    "learning to juggle",
    "growing herbs indoors",
    "running a garage sale",
    "writing a thank-you note",
    "staying safe online",
    "packing light",
    "starting a book club",
    "learning guitar",
)
FORMS = (
    "Give me advice on {t}.",
    "How can I get better at {t}?",
    "What should a beginner know about {t}?",
    "Help me with {t}.",
    "What are good habits for {t}?",
    "I want to improve at {t}. Where do I start?",
    "Share some tips on {t}.",
    "What mistakes do people make when {t}?",
)


def prompt_bank(seed: int = 0) -> list[str]:
    """Every topic in every form, in a fixed shuffled order."""
    prompts = [form.format(t=topic) for form in FORMS for topic in TOPICS]
    random.Random(seed).shuffle(prompts)
    return prompts


# --- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    rounds: int
    judgements: int  # per round
    final_judgements: int  # the compare-only phase after the last round
    annotators: int
    overlap: int
    completions_per_prompt: int
    max_tokens: int
    held_out_prompts: int
    training: dict = field(default_factory=dict)  # overrides of the DPO preset (--set)
    # "if_better": publish when the gate finds the new version better than its parent;
    # "always" (the smoke run): publish what trained, so every phase is walked.
    publish: str = "if_better"
    # Share of prompts whose compare task pits the live version against the one it replaced.
    compare_share: float = 0.5
    # How the queue picks the prompts to judge (Project.prompt_selection): order, random or
    # uncertainty; `pool` times the prompts a phase needs are offered, so it has a choice.
    strategy: str = "order"
    pool: int = 1

    def prompts_for(self, phase: int) -> int:
        """Prompts that give judging phase `phase` its judgements (rank and compare tasks,
        each `overlap` times a prompt; after the last round compare only), a few to spare,
        times `pool`."""
        if phase < self.rounds:
            needed = -(-self.judgements // (2 * self.overlap)) + 2
        else:
            needed = -(-self.final_judgements // self.overlap) + 2
        return needed * self.pool


FULL = Plan(
    rounds=3,
    judgements=200,
    final_judgements=100,
    annotators=4,
    overlap=4,  # every annotator judges every prompt: fewer prompts to generate per judgement
    completions_per_prompt=4,
    max_tokens=96,
    held_out_prompts=24,
    compare_share=1.0,  # every compare task is a head-to-head once a version replaced another
)
QUICK = Plan(
    rounds=1,
    judgements=24,
    final_judgements=8,
    annotators=3,
    overlap=2,
    completions_per_prompt=4,  # a ranking of four gives up to six pairs
    max_tokens=64,
    held_out_prompts=4,
    training={"max_steps": 2, "batch_size": 2, "eval_max_samples": 4, "max_length": 192},
    publish="always",
    compare_share=1.0,  # every compare task of the few after publishing is a head-to-head
)


@dataclass
class Round:
    number: int  # 0: the base model before any training
    live: str
    held_out_share: float
    held_out_samples: int
    judgements: int = 0  # judgements submitted in the phase that trained this version
    # How often the export was refused as too small to train on, each time followed by
    # judgements // 2 more judgements (as an admin would ask for).
    more_judging: int = 0
    pairs_train: int = 0
    pairs_held_out: int = 0
    published: bool | None = None
    gate: str = ""
    head_to_head: dict | None = None  # this version vs its parent, from the next phase's votes
    seconds: dict = field(default_factory=dict)


def options(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench loop")
    parser.add_argument("--rounds", type=int, help="Rounds of training (default 3; quick 1).")
    parser.add_argument("--judgements", type=int, help="Judgements per round (default 200).")
    parser.add_argument(
        "--strategy",
        choices=("order", "random", "uncertainty"),
        default="order",
        help="How the queue picks the prompts to judge (the project's prompt selection).",
    )
    parser.add_argument(
        "--pool", type=int, default=1, help="Offer this many times the prompts a phase needs."
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override the DPO preset, as `manage.py train --set` (e.g. learning_rate=5e-4, "
        "dpo.beta=0.2); repeatable. Recorded in the JSON's params.training.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the work directory.")
    parser.add_argument(
        "--vllm-url",
        default="",
        help="Use this running vLLM server (the bundled model, "
        "runtime LoRA on) instead of starting one.",
    )
    args = parser.parse_args(argv)
    return {
        "rounds": args.rounds,
        "judgements": args.judgements,
        "keep": args.keep,
        "vllm_url": args.vllm_url,
        "strategy": args.strategy,
        "pool": args.pool,
        "training": _overrides(args.set),
    }


def _overrides(pairs: list[str]) -> dict:
    """KEY=VALUE strings as the training overrides (values read as JSON where they parse:
    numbers, booleans; else kept as text)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE")
        try:
            overrides[key.strip()] = json.loads(value)
        except ValueError:
            overrides[key.strip()] = value
    return overrides


def run(
    quick: bool,
    rounds: int | None = None,
    judgements: int | None = None,
    keep: bool = False,
    vllm_url: str = "",
    strategy: str = "order",
    pool: int = 1,
    training: dict | None = None,
) -> dict:
    plan = QUICK if quick else FULL
    plan = Plan(
        **{
            **asdict(plan),
            "rounds": rounds or plan.rounds,
            "judgements": judgements or plan.judgements,
            "strategy": strategy,
            "pool": pool,
            "training": {**plan.training, **(training or {})},
        }
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # killed: clean up as on Ctrl-C
    workdir = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    try:
        with Loop(plan, workdir, vllm_url=vllm_url) as loop:
            curve = loop.run(on_round=lambda so_far: _partial_write(plan, so_far, quick=quick))
        figures = _figures(plan, curve, quick=quick)
        png = plot(figures, RESULTS_DIR / ("loop.quick.png" if quick else "loop.png"))
        figures["plot"] = str(png.relative_to(ROOT) if png.is_relative_to(ROOT) else png)
        return figures
    finally:
        if keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


class Loop:
    """The running system (vLLM, gunicorn, the generation worker) and the rounds over it."""

    def __init__(self, plan: Plan, workdir: Path, *, vllm_url: str = ""):
        self.plan, self.workdir, self.vllm_url = plan, workdir, vllm_url
        self.stack = contextlib.ExitStack()
        self.bank = prompt_bank()
        self.held_out = self.bank[: plan.held_out_prompts]
        self.next_prompt = plan.held_out_prompts

    def __enter__(self) -> Loop:
        try:
            self._start()
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stack.close()

    # -- the system ---------------------------------------------------------------------------

    def _start(self) -> None:
        from bench.common import base_model, django_setup_throwaway, vllm_process
        from bench.load.server import Gunicorn
        from serving.vllm.client import VLLMClient

        model_dir, served_name = base_model()
        log_dir = self.workdir / "var" / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        vllm = None
        if not self.vllm_url:
            vllm = vllm_process(model_dir, served_name, log_dir)
            self.stack.callback(vllm.stop)
            vllm.start()  # it starts while Django migrates and the project is seeded
            self.vllm_url = vllm.url
        os.environ.update(
            {
                "VLLM_URLS": self.vllm_url,
                "VLLM_SEND_SEED": "0",
                "BASE_MODEL_DIR": str(model_dir),
                "BASE_MODEL_NAME": served_name,
                "SECURE_HTTPS": "0",
                "ASSIGNMENT_LOCK_SECONDS": "600",
                "API_THROTTLE_USER": "100000/minute",
            }
        )
        env = django_setup_throwaway(self.workdir)
        self.project, self.tokens = self._seed()
        if vllm is not None:
            vllm.wait_healthy(timeout=600)
        self.client = VLLMClient(self.vllm_url, send_seed=False, timeout=600)
        self.stack.callback(self.client.close)
        self.web = self.stack.enter_context(
            Gunicorn(database_url=env["DATABASE_URL"], var_dir=self.workdir / "var", workers=2)
        )
        self.stack.enter_context(_GenerationWorker(env, log_dir / "worker-generation.log"))

    def _seed(self):
        """The project (the admin's project_create) and the annotators (membership_grant),
        each with an API token."""
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from labeling.models import Role
        from labeling.services.projects import membership_grant, project_create, project_update

        project = project_create(
            name="Loop benchmark",
            slug="bench-loop",
            task_kinds=["rank", "compare"],
            completions_per_prompt=self.plan.completions_per_prompt,
            max_tokens=self.plan.max_tokens,
            overlap=self.plan.overlap,
            compare_share=self.plan.compare_share,
            guidelines="Prefer a one-line summary, then a list.",
        )
        project = project_update(project=project, prompt_selection=self.plan.strategy)
        tokens = []
        for i in range(self.plan.annotators):
            user = get_user_model().objects.create_user(
                f"annotator{i}", password=secrets.token_hex()
            )
            membership_grant(project=project, user=user, role=Role.ANNOTATOR)
            tokens.append(Token.objects.create(user=user).key)
        return project, tokens

    # -- the rounds ---------------------------------------------------------------------------

    def run(self, *, on_round=None) -> list[Round]:
        """Round 0 (the base model measured), then each round; `on_round(curve)` after each."""
        from training.selectors.versions import live_version

        base = live_version(self.project)
        self._add_prompts(self.plan.prompts_for(0))
        curve = [Round(0, base.served_name, *self._held_out_share(base))]
        for number in range(1, self.plan.rounds + 1):
            curve.append(self._round(number, parent=curve[-1]))
            if on_round is not None:
                on_round(curve)
        self._judge(self.plan.final_judgements, kinds=["compare"])
        curve[-1].head_to_head = self._head_to_head(curve[-1])
        return curve

    def _round(self, number: int, *, parent: Round) -> Round:
        """Judge the live version's completions, then export, train, gate, publish, and
        wait for the first completion of the new version."""
        from training.selectors.versions import live_version

        seconds: dict[str, float] = {}
        live = live_version(self.project)
        started = time.monotonic()
        judged = self._judge(self.plan.judgements)
        seconds["judging"] = time.monotonic() - started
        parent.head_to_head = self._head_to_head(parent)
        more_judging = 0

        for attempt in range(MORE_JUDGING_TRIES + 1):
            started = time.monotonic()
            export = self._export(live)
            seconds["export"] = time.monotonic() - started
            try:
                run = self._run_create(export, live)
                break
            except ValidationError as refused:
                if attempt == MORE_JUDGING_TRIES or "export" not in refused.message_dict:
                    raise
            # Too few pairs to train on (refused at the click): as an admin would, have the
            # annotators judge more first.
            started = time.monotonic()
            more = self.plan.judgements // 2
            self._add_prompts(-(-more // (2 * self.plan.overlap)) + 2)
            judged += self._judge(more)
            more_judging += 1
            seconds["judging"] += time.monotonic() - started
        started = time.monotonic()
        run = self._run_execute(run)
        seconds["training"] = time.monotonic() - started
        started = time.monotonic()
        published = self._publish(run)
        seconds["publish"] = time.monotonic() - started
        new = live_version(self.project)
        # The next phase's prompts: the generation worker answers them with the new version.
        self._add_prompts(self.plan.prompts_for(number))
        if published:
            started = time.monotonic()
            self._first_completion_wait(new)
            seconds["regeneration"] = time.monotonic() - started
        seconds["last_judgement_to_first_completion"] = sum(
            seconds.get(phase, 0.0) for phase in ("export", "training", "publish", "regeneration")
        )
        share, samples = self._held_out_share(new)
        run.refresh_from_db()
        return Round(
            number=number,
            live=new.served_name,
            held_out_share=share,
            held_out_samples=samples,
            judgements=judged,
            more_judging=more_judging,
            pairs_train=export.rows_train,
            pairs_held_out=export.rows_validation + export.rows_test,
            published=published,
            gate=(run.gate or {}).get("verdict", "") + ": " + (run.gate or {}).get("reason", ""),
            seconds={k: round(v, 1) for k, v in seconds.items()},
        )

    def _add_prompts(self, count: int) -> None:
        """The next `count` prompts of the bank (never a held-out one) into the project."""
        from labeling.services.generation_schedule import generation_tick_wake
        from labeling.services.prompts import prompt_create

        texts = self.bank[self.next_prompt : self.next_prompt + count]
        if len(texts) < count:
            raise RuntimeError("the prompt bank is used up: ask for fewer rounds or judgements")
        self.next_prompt += count
        for text in texts:
            prompt_create(project=self.project, instruction=text, source="bench-loop")
        generation_tick_wake()

    def _judge(self, judgements: int, *, kinds: tuple[str, ...] = ("rank", "compare")) -> int:
        """The annotators over HTTP until `judgements` are in; while none is ready they
        wait for the generation worker."""
        from bench.load.annotators import annotators_run

        self.project.task_kinds = list(kinds)
        self.project.save(update_fields=["task_kinds"])
        outcome = annotators_run(
            base_url=self.web.url,
            slug=self.project.slug,
            tokens=self.tokens,
            judgements=judgements,
            verdict=verdict_of,
            wait_when_dry_s=WAIT_FOR_WORK_S,
        )
        if outcome.errors or len(outcome.accepted) < judgements:
            raise RuntimeError(
                f"{len(outcome.accepted)} of {judgements} judgements in; {outcome.errors[:3]}"
            )
        return len(outcome.accepted)

    def _export(self, live):
        """The admin's preference export of the judgements of the live version's completions
        (on-policy: each round learns from its own answers; the earlier ones trained its
        parent already), with the default rule; a fifth of the prompts held out, so that the
        gate has pairs to compare on (the default 5% of a round's few dozen prompts is none)."""
        from labeling.models import DatasetExport
        from labeling.services.exports import dataset_export_create, dataset_export_run

        export = dataset_export_create(
            project=self.project,
            format=DatasetExport.Format.PREFERENCE,
            split=HELD_OUT_SPLIT,
            filters={"model_versions": [live.number]},
        )
        export = dataset_export_run(export=export)
        if export.status != DatasetExport.Status.DONE:
            raise RuntimeError(f"the export failed: {export.error}")
        return export

    def _run_create(self, export, live):
        """DPO from the live version (its adapter continued, its policy the reference), the
        preset, LoRA, as the admin's start form makes it; refused (ValidationError) when the
        export cannot train it. The gate's verdict is kept on the run, publishing is timed
        apart (see _publish)."""
        from training.models import TrainingRun
        from training.services.runs import training_run_create

        return training_run_create(
            project=self.project,
            method="dpo",
            export=export,
            base_version=live,
            overrides=dict(self.plan.training),
            publish=TrainingRun.Publish.MANUAL,
            enqueue=False,
        )

    def _run_execute(self, run):
        from training.models import TrainingRun
        from training.services.runs import training_run_execute

        run = training_run_execute(run=run)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise RuntimeError(f"the DPO run failed: {run.error}\n{run.log[-3000:]}")
        return run

    def _publish(self, run) -> bool:
        """The admin's Publish when the gate found the new version better than its parent
        (what the if_better policy does, timed on its own): hot-load on the vLLM server."""
        from training.services.versions import model_version_publish

        if self.plan.publish != "always" and not (run.gate or {}).get("better"):
            return False
        model_version_publish(version=run.result_version)
        return True

    def _first_completion_wait(self, version, timeout_s: float = 1800) -> None:
        from labeling.models import Completion

        deadline = time.monotonic() + timeout_s
        while not Completion.objects.filter(model_version=version).exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no completion of {version.served_name} in {timeout_s} s")
            time.sleep(0.5)

    def _head_to_head(self, round_: Round) -> dict | None:
        """The round's version against the one it replaced, from the compare votes so far."""
        from labeling.selectors.head_to_head import version_head_to_head
        from training.models import ModelVersion

        if round_.number == 0 or not round_.published:
            return None
        version = ModelVersion.objects.get(project=self.project, served_name=round_.live)
        result = version_head_to_head(self.project, live=version)
        counts = result.counts
        return {
            "against": result.comparison.served_name if result.comparison else None,
            "n": result.n,
            "wins": counts.wins,
            "losses": counts.losses,
            "ties": counts.ties,
            "both_bad": counts.both_bad,
            "win_rate": result.win_rate,  # draws (tie, both bad) count half
            "decisive_win_rate": counts.wins / (counts.wins + counts.losses)
            if counts.wins + counts.losses
            else None,
            "low": result.low,
            "high": result.high,
        }

    def _held_out_share(self, version) -> tuple[float, int]:
        """The share of the version's sampled answers to the held-out prompts that meet the
        whole preference: the request generation sends (completion_jobs: the project's
        sampling, n answers a prompt), for prompts that are not in the project."""
        from labeling.models import Prompt
        from labeling.services.generation import completion_jobs
        from serving.vllm.concurrent_chat import chat_concurrently

        prompts = [Prompt(project=self.project, instruction=text) for text in self.held_out]
        jobs = completion_jobs(project=self.project, prompts=prompts, live=version)
        texts = []
        for outcome in chat_concurrently(self.client, jobs):
            if outcome.error is not None:
                raise RuntimeError(f"held-out generation failed: {outcome.error}")
            texts += [choice.text for choice in outcome.result.choices]
        return sum(map(preferred, texts)) / len(texts), len(texts)


class _GenerationWorker:
    """`manage.py db_worker --queue-name generation`, as scripts/run.sh starts it."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.popen: subprocess.Popen | None = None

    def __enter__(self) -> _GenerationWorker:
        manage = [sys.executable, "manage.py"]
        subprocess.run(
            [*manage, "generation_start"], cwd=ROOT, env=self.env, check=True, capture_output=True
        )
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                [*manage, "db_worker", "--queue-name", "generation"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def __exit__(self, *exc_info) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()


def _figures(plan: Plan, curve: list[Round], *, quick: bool) -> dict:
    shares = [r.held_out_share for r in curve]
    gain = shares[-1] - shares[0]
    rises = all(b > a for a, b in itertools.pairwise(shares))
    published = [r for r in curve[1:] if r.published]
    wins_ok = bool(published) and all(
        r.head_to_head
        and (r.head_to_head["win_rate"] or 0) >= GOAL_WIN_RATE
        and (r.head_to_head["low"] or 0) > 0.5
        for r in published
    )
    round_seconds = [r.seconds.get("last_judgement_to_first_completion", 0) for r in curve[1:]]
    slowest = max(round_seconds, default=0.0)
    goals = {
        "share_rises_every_round": rises,
        "share_gain_after_rounds": round(gain, 3),
        "share_gain_met": gain >= GOAL_SHARE_GAIN,
        "every_published_round_wins": wins_ok,
        "slowest_round_s": slowest,
        "round_time_met": slowest <= GOAL_ROUND_SECONDS,
    }
    goals["held_back_by"] = _held_back_by(curve, goals)
    return {
        "metric": f"held-out preference share after {plan.rounds} rounds (from {shares[0]:.2f})",
        "value": round(shares[-1], 3),
        "baseline": round(shares[0], 3),
        "goal": f"+{GOAL_SHARE_GAIN:.0%} after 3 rounds of <= 200 judgements; every published "
        f"round wins >= {GOAL_WIN_RATE:.0%} head-to-head (Wilson low > 50%); a round's last "
        f"judgement to the new version's first completion <= {GOAL_ROUND_SECONDS:.0f} s",
        "unit": "share",
        "params": {**asdict(plan), "flip_rate": FLIP_RATE, "quick": quick},
        "goals": goals,
        "rounds": [asdict(r) for r in curve],
        "judgements_total": sum(r.judgements for r in curve) + plan.final_judgements,
        "median_phase_s": {
            phase: round(
                statistics.median(r.seconds[phase] for r in curve[1:] if phase in r.seconds), 1
            )
            for phase in ("judging", "export", "training", "publish", "regeneration")
            if any(phase in r.seconds for r in curve[1:])
        },
    }


def _partial_write(plan: Plan, curve: list[Round], *, quick: bool) -> None:
    """The curve so far in loop.partial.json (or loop.quick.partial.json), so that a long run
    cut short still leaves its rounds."""
    import json

    from bench.common import result_build

    name = "loop.quick.partial.json" if quick else "loop.partial.json"
    result = {**result_build("loop", _figures(plan, curve, quick=quick)), "complete": False}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


def _held_back_by(curve: list[Round], goals: dict) -> str:
    """Which phase holds a missed goal back, with its figures."""
    notes = []
    if not goals["round_time_met"]:
        last = max(curve[1:], key=lambda r: r.seconds.get("last_judgement_to_first_completion", 0))
        phase = max(
            ("export", "training", "publish", "regeneration"), key=lambda p: last.seconds.get(p, 0)
        )
        notes.append(
            f"round {last.number} took {last.seconds['last_judgement_to_first_completion']} s, "
            f"{last.seconds.get(phase)} s of it {phase}"
        )
    for r in curve[1:]:
        duel = r.head_to_head
        if (
            r.published
            and duel
            and not ((duel["win_rate"] or 0) >= GOAL_WIN_RATE and (duel["low"] or 0) > 0.5)
        ):
            notes.append(
                f"round {r.number} won {duel['win_rate']:.1%} of {duel['n']} head-to-heads "
                f"(Wilson low {duel['low']:.2f}; {duel['both_bad']} both bad, "
                f"{duel['ties']} ties)"
            )
    unpublished = [r.number for r in curve[1:] if not r.published]
    if unpublished:
        notes.append(f"rounds {unpublished} were not published by the gate")
    if not goals["share_gain_met"]:
        notes.append(
            f"the share rose {goals['share_gain_after_rounds']:+.2f}, "
            f"short of +{GOAL_SHARE_GAIN:.2f}"
        )
    return "; ".join(notes)


def plot(result: dict, path: Path) -> Path:
    """The preference share and the head-to-head win rate by round, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = result["rounds"]
    numbers = [r["number"] for r in rounds]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(numbers, [r["held_out_share"] for r in rounds], "o-", label="held-out preference share")
    wins = [(r["number"], r["head_to_head"]) for r in rounds if r.get("head_to_head")]
    if wins:
        xs = [n for n, _ in wins]
        ys = [h["win_rate"] for _, h in wins]
        low = [h["win_rate"] - h["low"] for _, h in wins]
        high = [h["high"] - h["win_rate"] for _, h in wins]
        ax.errorbar(
            xs,
            ys,
            yerr=[low, high],
            fmt="s--",
            capsize=4,
            label="win rate over parent (Wilson 95%)",
        )
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xticks(numbers)
    ax.set_xlabel("round (0: the base model)")
    ax.set_ylim(0, 1)
    ax.set_title("The loop: simulated annotators' preference, round by round")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
