"""`python -m bench loop_strategies`: how its figures read the two loops' curves. (The loops
themselves are `bench loop` runs, tested end to end in test_bench_loop, its help there too.)"""

from bench.loop_strategies import comparison, curve, judgements_to_reach, plot


def loop_result(shares, judgements=200):
    rounds = [
        {
            "number": number,
            "held_out_share": share,
            "held_out_samples": 96,
            "judgements": 0 if number == 0 else judgements,
            "published": True,
        }
        for number, share in enumerate(shares)
    ]
    return {"rounds": rounds, "goals": {}, "params": {}}


def test_each_curve_counts_judgements_spent_and_gain_from_its_own_round_zero():
    assert curve(loop_result([0.10, 0.30, 0.40])) == [
        (0, 0.0),
        (200, 0.19999999999999998),
        (400, 0.30000000000000004),
    ]
    points = [(0, 0.0), (200, 0.2), (400, 0.3)]
    assert judgements_to_reach(points, 0.1) == 100.0  # halfway up the first round
    assert judgements_to_reach(points, 0.3) == 400.0
    assert judgements_to_reach(points, 0.5) is None


def test_uncertainty_that_gets_there_with_a_third_fewer_judgements_meets_the_goal():
    random_run = loop_result([0.10, 0.20, 0.30])  # +0.20 after 400
    quicker = loop_result([0.12, 0.40, 0.45])  # +0.20 reached after about 143
    figures = comparison(random_run, quicker)
    assert figures["met"] is True
    assert figures["random_judgements"] == 400
    assert 140 < figures["uncertainty_judgements_for_random_gain"] < 146
    assert figures["value"] > 0.6
    assert "fewer" in figures["reason"]
    assert figures["strategies"]["random"]["final_share_standard_error"] > 0


def test_uncertainty_that_falls_short_or_is_slower_misses_it_and_says_why():
    random_run = loop_result([0.10, 0.20, 0.30])
    short = comparison(random_run, loop_result([0.10, 0.15, 0.20]))
    assert short["met"] is False and short["value"] is None
    assert "short of random's +0.200 in 400" in short["reason"]

    slower = comparison(random_run, loop_result([0.10, 0.15, 0.31]))  # +0.20 at about 383
    assert slower["met"] is False and 0 < slower["value"] < 0.3

    flat = comparison(loop_result([0.20, 0.18, 0.19]), loop_result([0.10, 0.30, 0.40]))
    assert flat["met"] is False and "random gained nothing" in flat["reason"]


def test_the_plot_draws_one_curve_per_strategy(tmp_path):
    runs = {"random": loop_result([0.1, 0.2]), "uncertainty": loop_result([0.1, 0.3])}
    path = plot(runs, tmp_path / "strategies.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
