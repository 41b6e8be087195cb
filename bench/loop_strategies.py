"""`python -m bench loop_strategies`: does choosing the prompts to judge by uncertainty reach the
same held-out improvement as random choice with fewer judgements? (Issue 15's second goal.)

Each strategy runs the whole loop benchmark (`python -m bench loop --strategy S`, see
bench/loop.py: simulated annotators over the HTTP API, real vLLM, DPO rounds) in a child
process of its own, from the same base model, with the same plan and the same prompt bank;
`--pool` offers the queue that many times the prompts a round needs, so that the strategy has a
choice (with a pool of 1 every strategy judges the same prompts).

**The comparison.** For each strategy, the held-out preference share against the judgements
spent so far (round 0 at 0 judgements), each run's gain measured from its own round 0 (the
base model's share is sampled, so the two runs' round-0 figures differ a little). Random's
gain after its last round is the target; the judgements uncertainty needed to reach the same
gain are read off its curve (linear between rounds; none if it never gets there). Goal: at
least 30% fewer than random. The held-out share is a sample (held-out prompts x n answers), so
the JSON also gives its standard error, to read a small difference for what it is.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import RESULTS_DIR, ROOT

GOAL_FEWER = 0.30
STRATEGIES = ("random", "uncertainty")


def options(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench loop_strategies")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds per strategy (default 2).")
    parser.add_argument(
        "--judgements", type=int, default=200, help="Judgements per round (default 200)."
    )
    parser.add_argument(
        "--pool", type=int, default=2, help="Offer this many times the prompts a round needs."
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Passed to each `bench loop` run (overrides of the DPO preset).",
    )
    args = parser.parse_args(argv)
    return {
        "rounds": args.rounds,
        "judgements": args.judgements,
        "pool": args.pool,
        "sets": args.set,
    }


def run(
    quick: bool,
    rounds: int = 2,
    judgements: int = 200,
    pool: int = 2,
    sets: list[str] | None = None,
) -> dict:
    runs = {}
    for strategy in STRATEGIES:
        runs[strategy] = _loop_run(
            strategy, quick=quick, rounds=rounds, judgements=judgements, pool=pool, sets=sets
        )
    figures = comparison(runs["random"], runs["uncertainty"])
    png = plot(
        runs, RESULTS_DIR / ("loop_strategies.quick.png" if quick else "loop_strategies.png")
    )
    figures["plot"] = str(png.relative_to(ROOT) if png.is_relative_to(ROOT) else png)
    figures["params"] = {
        "rounds": rounds,
        "judgements": judgements,
        "pool": pool,
        "set": list(sets or []),
        "quick": quick,
        "loop_params": runs["random"]["params"],
    }
    return figures


def _loop_run(
    strategy: str, *, quick: bool, rounds: int, judgements: int, pool: int, sets: list[str] | None
) -> dict:
    """One `python -m bench loop` run in a child process; its result document."""
    with tempfile.TemporaryDirectory(prefix=f"bench-loop-{strategy}-") as results:
        command = [sys.executable, "-m", "bench", "loop", "--strategy", strategy]
        command += ["--pool", str(pool), "--rounds", str(rounds), "--judgements", str(judgements)]
        command += ["--quick"] if quick else []
        for pair in sets or []:
            command += ["--set", pair]
        env = {**os.environ, "BENCH_RESULTS_DIR": results}
        print(f"loop_strategies: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"the {strategy} loop failed (exit {done.returncode})")
        name = "loop.quick.json" if quick else "loop.json"
        result = json.loads((Path(results) / name).read_text())
    # Each strategy's whole loop result beside the comparison, so a run cut short during the
    # second strategy keeps the first.
    kept = RESULTS_DIR / f"loop_strategies.{strategy}{'.quick' if quick else ''}.json"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return result


def curve(result: dict) -> list[tuple[int, float]]:
    """(judgements spent so far, held-out share gained since round 0) after each round."""
    rounds = result["rounds"]
    spent, points = 0, []
    for round_ in rounds:
        spent += round_["judgements"]
        points.append((spent, round_["held_out_share"] - rounds[0]["held_out_share"]))
    return points


def judgements_to_reach(points: list[tuple[int, float]], gain: float) -> float | None:
    """The judgements at which the curve first reaches `gain` (linear between rounds)."""
    for (j0, g0), (j1, g1) in itertools.pairwise(points):
        if g1 >= gain:
            if g1 == g0:
                return float(j1)
            return j0 + (j1 - j0) * max(0.0, (gain - g0) / (g1 - g0))
    return None


def _standard_error(result: dict) -> float:
    last = result["rounds"][-1]
    share, n = last["held_out_share"], last["held_out_samples"]
    return math.sqrt(share * (1 - share) / n) if n else 0.0


def comparison(random_run: dict, uncertain_run: dict) -> dict:
    """The figures: judgements uncertainty needs for random's gain, and whether that is at
    least GOAL_FEWER fewer."""
    random_points, uncertain_points = curve(random_run), curve(uncertain_run)
    target_judgements, target_gain = random_points[-1]
    needed = judgements_to_reach(uncertain_points, target_gain) if target_gain > 0 else None
    fewer = 1 - needed / target_judgements if needed is not None else None
    met = fewer is not None and fewer >= GOAL_FEWER
    if target_gain <= 0:
        reason = f"random gained nothing ({target_gain:+.3f}), so there is no improvement to match"
    elif needed is None:
        reason = (
            f"uncertainty gained {uncertain_points[-1][1]:+.3f} in {uncertain_points[-1][0]} "
            f"judgements, short of random's {target_gain:+.3f} in {target_judgements}"
        )
    else:
        reason = (
            f"uncertainty reached random's gain of {target_gain:+.3f} after {needed:.0f} "
            f"judgements against random's {target_judgements}: {fewer:.0%} fewer"
        )
    return {
        "metric": "fewer judgements than random for random's held-out preference gain",
        "value": round(fewer, 3) if fewer is not None else None,
        "baseline": None,
        "goal": f"the same held-out improvement with at least {GOAL_FEWER:.0%} fewer judgements",
        "unit": "share of random's judgements saved",
        "met": met,
        "reason": reason,
        "strategies": {
            name: {
                "curve": [{"judgements": j, "gain": round(g, 3)} for j, g in points],
                "shares": [r["held_out_share"] for r in result["rounds"]],
                "published": [r["published"] for r in result["rounds"][1:]],
                "final_share_standard_error": round(_standard_error(result), 3),
                "goals": result.get("goals", {}),
            }
            for name, points, result in (
                ("random", random_points, random_run),
                ("uncertainty", uncertain_points, uncertain_run),
            )
        },
        "uncertainty_judgements_for_random_gain": round(needed, 1) if needed is not None else None,
        "random_judgements": target_judgements,
    }


def plot(runs: dict, path: Path) -> Path:
    """Held-out preference gain against judgements spent, one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for name, result in runs.items():
        points = curve(result)
        ax.plot([j for j, _ in points], [g for _, g in points], "o-", label=name)
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("judgements spent")
    ax.set_ylabel("held-out preference share gained")
    ax.set_title("Choosing prompts to judge: random vs uncertainty")
    ax.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
