"""`python -m bench loop --quick` end to end: the app under gunicorn, the real generation
worker, simulated annotators over the HTTP API, a preference export, a DPO run from the live
version, publishing to the real vLLM server (the session's), regeneration by the new version,
its head-to-head against the base, the JSON and the plot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.loop import preference_score, preferred, verdict_of

ROOT = Path(__file__).resolve().parents[1]


def test_the_hidden_preference_wants_a_summary_line_then_a_list():
    listed = "Saving is a habit.\n- Pay yourself first.\n- Track every expense."
    assert preference_score(listed) == 2 and preferred(listed)
    assert preference_score("- one\n- two") == 1  # a list without a summary
    assert preference_score("A summary.\nThen prose, no list.") == 1
    long_prose = " ".join(["words"] * 200)
    assert preference_score(long_prose) == 0  # not simply longer


def test_the_simulated_annotator_ranks_and_compares_by_the_preference_and_errs():
    import random

    texts = {1: "prose", 2: "Sum.\n- a\n- b", 3: "more prose"}
    rank = {"kind": "rank", "completions": [{"id": k, "text": v} for k, v in texts.items()]}
    compare = {"kind": "compare", "left": rank["completions"][0], "right": rank["completions"][1]}
    both_prose = {**compare, "right": rank["completions"][2]}
    rnd = random.Random(0)
    assert verdict_of(rank, rnd, flip_rate=0)["ranking"] == [[2], [1, 3]]  # equal scores tie
    assert verdict_of(rank, rnd, flip_rate=1)["ranking"] == [[1, 3], [2]]  # a mistake
    assert verdict_of(compare, rnd, flip_rate=0)["choice"] == "b"
    assert verdict_of(compare, rnd, flip_rate=1)["choice"] == "a"
    assert verdict_of(both_prose, rnd, flip_rate=0)["choice"] == "both_bad"
    prose_only = {**rank, "completions": [rank["completions"][0], rank["completions"][2]]}
    none = verdict_of(prose_only, rnd, flip_rate=0)
    assert none["outcome"] == "none_acceptable" and none["reason"]  # the API wants a reason
    flipped = sum(verdict_of(compare, rnd)["choice"] == "a" for _ in range(2000))
    assert 140 < flipped < 260  # about FLIP_RATE of 2000


@pytest.mark.vllm
@pytest.mark.loop
def test_one_quick_round_runs_end_to_end_through_the_http_api(vllm_server, tmp_path):
    env = {
        **os.environ,
        "BENCH_RESULTS_DIR": str(tmp_path),
        "BASE_MODEL_DIR": str(vllm_server.model_dir),
        "BASE_MODEL_NAME": vllm_server.served_name,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "bench", "loop", "--quick", "--vllm-url", vllm_server.url]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]

    result = json.loads((tmp_path / "loop.quick.json").read_text())
    base, first = result["rounds"]
    assert base["number"] == 0 and base["live"] == vllm_server.served_name
    assert first["live"] == "bench-loop-v1" and first["published"] is True
    # A sampled model can give too few distinct pairs for the first export: the round then
    # asks for half as many judgements more, and says so.
    asked = result["params"]["judgements"]
    assert first["judgements"] == asked + first["more_judging"] * (asked // 2)
    assert first["pairs_train"] > 0
    assert set(first["seconds"]) >= {"judging", "export", "training", "publish", "regeneration"}
    for round_ in result["rounds"]:
        assert 0.0 <= round_["held_out_share"] <= 1.0
        assert round_["held_out_samples"] == 4 * 4  # held-out prompts x n
    duel = first["head_to_head"]
    assert duel["against"] == vllm_server.served_name
    assert duel["n"] > 0  # the compare-only phase judged the two versions
    assert "bench-loop-v1" in {model.id for model in vllm_server.client.models()}
    assert (tmp_path / "loop.quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_figures_say_which_goal_is_met_and_what_holds_a_missed_one_back():
    from bench.loop import FULL, Round, _figures

    def duel(win_rate, low):
        return {"win_rate": win_rate, "low": low, "high": 0.9, "n": 100, "both_bad": 9, "ties": 1}

    def round_(number, share, training_s, head_to_head):
        seconds = {"export": 1.0, "training": training_s, "publish": 0.1, "regeneration": 30.0}
        seconds["last_judgement_to_first_completion"] = sum(seconds.values())
        return Round(
            number,
            f"v{number}",
            share,
            96,
            judgements=200,
            published=True,
            head_to_head=head_to_head,
            seconds=seconds,
        )

    rising = [
        Round(0, "base", 0.10, 96),
        round_(1, 0.20, 300.0, duel(0.66, 0.56)),
        round_(2, 0.30, 320.0, duel(0.62, 0.52)),
        round_(3, 0.45, 340.0, duel(0.70, 0.60)),
    ]
    goals = _figures(FULL, rising, quick=False)["goals"]
    assert goals["share_rises_every_round"] and goals["share_gain_met"]
    assert goals["every_published_round_wins"] and goals["round_time_met"]
    assert goals["held_back_by"] == ""

    stalled = [*rising[:2], round_(2, 0.15, 900.0, duel(0.55, 0.45))]
    goals = _figures(FULL, stalled, quick=False)["goals"]
    assert not goals["share_rises_every_round"] and not goals["share_gain_met"]
    assert not goals["every_published_round_wins"] and not goals["round_time_met"]
    assert "round 2 took 931.1 s, 900.0 s of it training" in goals["held_back_by"]
    assert "round 2 won 55.0% of 100 head-to-heads (Wilson low 0.45" in goals["held_back_by"]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("loop", ["--quick", "--set KEY=VALUE", "--strategy {order,random,uncertainty}"]),
        ("loop_strategies", ["--rounds ROUNDS", "--pool POOL", "--set KEY=VALUE"]),
    ],
)
def test_the_loop_benchmarks_list_their_own_options_in_their_help(name, options):
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert all(option in done.stdout for option in options), done.stdout
