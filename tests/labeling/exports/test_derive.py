"""Deriving preferences and labels from judgements: pure functions, no database."""

import random

import pytest

from labeling.exports import derive
from labeling.exports.dedupe import Deduplicator
from labeling.exports.derive import (
    Rule,
    bradley_terry,
    choice_votes,
    none_acceptable_labels,
    prompt_labels,
    prompt_preferences,
    ranking_extreme_labels,
    ranking_votes,
    rating_labels,
)
from labeling.exports.formats import TextTemplate, annotator_pseudonym
from labeling.models import DatasetExport
from labeling.models.project import DEFAULT_TEXT_TEMPLATE


def votes_of(ranking, judgement_id=1, annotator_id=1, **kwargs):
    return ranking_votes(ranking, judgement_id=judgement_id, annotator_id=annotator_id, **kwargs)


def ordered_pairs(pairs) -> set[tuple[int, int]]:
    return {(pair.chosen, pair.rejected) for pair in pairs}


# --- votes from one judgement -----------------------------------------------------------------


def test_a_ranking_of_five_without_ties_gives_every_one_of_its_ten_pairs():
    votes = votes_of([[1], [2], [3], [4], [5]])
    assert len(votes) == 10
    assert {(v.chosen, v.rejected) for v in votes} == {
        (a, b) for a in range(1, 6) for b in range(1, 6) if a < b
    }


def test_completions_tied_in_a_ranking_give_no_pair_between_them():
    votes = votes_of([[5], [7, 8], [6]])
    assert {(v.chosen, v.rejected) for v in votes} == {(5, 7), (5, 8), (5, 6), (7, 6), (8, 6)}
    assert votes_of([[1, 2, 3]]) == []


def test_a_ranking_restricted_to_some_completions_keeps_their_order():
    votes = votes_of([[1], [2], [3]], allowed={1, 3})
    assert [(v.chosen, v.rejected) for v in votes] == [(1, 3)]


@pytest.mark.parametrize(
    ("choice", "expected"), [("a", [(10, 20)]), ("b", [(20, 10)]), ("tie", []), ("both_bad", [])]
)
def test_a_comparison_gives_one_pair_or_none(choice, expected):
    votes = choice_votes(choice, left=10, right=20, judgement_id=1, annotator_id=1)
    assert [(v.chosen, v.rejected) for v in votes] == expected


# --- several annotators: the rules ----------------------------------------------------------


def three_annotators() -> list[derive.Vote]:
    """Two annotators rank 1 > 2 > 3, the third 2 > 1 > 3."""
    return (
        votes_of([[1], [2], [3]], judgement_id=11, annotator_id=1)
        + votes_of([[1], [2], [3]], judgement_id=12, annotator_id=2)
        + votes_of([[2], [1], [3]], judgement_id=13, annotator_id=3)
    )


def test_rule_all_keeps_every_annotators_pairs_including_the_dissent():
    result = prompt_preferences(three_annotators(), Rule.ALL)
    assert len(result.pairs) == 9
    assert (2, 1) in ordered_pairs(result.pairs) and (1, 2) in ordered_pairs(result.pairs)
    assert result.conflicts == 1  # only 1-vs-2 was ordered both ways


def test_rule_majority_takes_the_majority_per_pair_and_counts_the_conflict():
    result = prompt_preferences(three_annotators(), Rule.MAJORITY)
    assert ordered_pairs(result.pairs) == {(1, 2), (1, 3), (2, 3)}
    one_over_two = next(pair for pair in result.pairs if (pair.chosen, pair.rejected) == (1, 2))
    assert one_over_two.judgement_ids == (11, 12, 13)  # everyone who voted on the pair
    assert result.conflicts == 1
    # 1v2: 2 of 3 agree; 1v3 and 2v3: 3 of 3 -> 8 of 9 votes side with the majority.
    assert result.agreement == pytest.approx(8 / 9)


def test_rule_majority_drops_a_pair_whose_vote_is_tied():
    votes = votes_of([[1], [2]], judgement_id=1, annotator_id=1) + votes_of(
        [[2], [1]], judgement_id=2, annotator_id=2
    )
    result = prompt_preferences(votes, Rule.MAJORITY)
    assert result.pairs == [] and result.ties == 1 and result.conflicts == 1
    assert result.agreement == 0.5


def test_rule_bradley_terry_gives_pairs_from_the_fitted_order():
    result = prompt_preferences(three_annotators(), Rule.BRADLEY_TERRY)
    assert ordered_pairs(result.pairs) == {(1, 2), (1, 3), (2, 3)}
    assert result.pairs[0].annotator_ids == (1, 2, 3)


def test_rule_bradley_terry_orders_completions_never_compared_directly():
    votes = [
        derive.Vote(1, 2, (1,), (1,)),
        derive.Vote(2, 3, (2,), (2,)),
    ]
    assert ordered_pairs(prompt_preferences(votes, Rule.BRADLEY_TERRY).pairs) == {
        (1, 2),
        (2, 3),
        (1, 3),
    }


def test_rule_bradley_terry_gives_no_pair_for_a_perfect_cycle():
    votes = [
        derive.Vote(1, 2, (1,), (1,)),
        derive.Vote(2, 3, (2,), (2,)),
        derive.Vote(3, 1, (3,), (3,)),
    ]
    result = prompt_preferences(votes, Rule.BRADLEY_TERRY)
    assert result.pairs == [] and result.ties == 3


def test_bradley_terry_recovers_the_strengths_behind_noisy_outcomes():
    rng = random.Random(3)
    true = {item: 2.0**item for item in range(5)}
    outcomes = []
    for _ in range(20_000):
        a, b = rng.sample(range(5), 2)
        outcomes.append((a, b) if rng.random() < true[a] / (true[a] + true[b]) else (b, a))
    fitted = bradley_terry(outcomes)
    for item in range(1, 5):
        assert fitted[item] / fitted[0] == pytest.approx(true[item], rel=0.12)


def test_bradley_terry_stays_finite_when_one_item_wins_everything():
    fitted = bradley_terry([(1, 2)] * 50 + [(1, 3)] * 50)
    assert all(0 < strength < 1e6 for strength in fitted.values())
    assert fitted[1] > fitted[2] == pytest.approx(fitted[3])


def test_agreement_is_unknown_without_two_votes_on_any_pair():
    assert prompt_preferences(votes_of([[1], [2], [3]]), Rule.ALL).agreement is None


def test_the_rules_are_the_exports_rules():
    assert {rule.value for rule in Rule} == set(DatasetExport.Rule.values)


# --- KTO labels -------------------------------------------------------------------------------


def test_thumbs_become_labels_and_none_acceptable_makes_every_completion_negative():
    ids = {"judgement_id": 1, "annotator_id": 1}
    rated = rating_labels({"5": {"thumb": "up"}, "6": {"thumb": "down"}}, **ids)
    assert [(label.completion_id, label.desirable) for label in rated] == [(5, True), (6, False)]
    rejected = none_acceptable_labels([5, 6, 7], **ids)
    assert [(label.completion_id, label.desirable) for label in rejected] == [
        (5, False),
        (6, False),
        (7, False),
    ]


def test_the_top_and_bottom_of_a_ranking_become_labels():
    labels = ranking_extreme_labels([[1, 2], [3], [4]], judgement_id=1, annotator_id=1)
    assert [(label.completion_id, label.desirable) for label in labels] == [
        (1, True),
        (2, True),
        (4, False),
    ]
    assert ranking_extreme_labels([[1, 2]], judgement_id=1, annotator_id=1) == []


def test_kto_majority_per_completion_drops_ties_and_counts_conflicts():
    labels = [
        derive.Label(5, True, 1, 1),
        derive.Label(5, True, 2, 2),
        derive.Label(5, False, 3, 3),
        derive.Label(6, True, 1, 1),
        derive.Label(6, False, 2, 2),
    ]
    everything = prompt_labels(labels, Rule.ALL)
    assert len(everything.rows) == 5 and everything.conflicts == 2
    majority = prompt_labels(labels, Rule.MAJORITY)
    assert [(row.completion_id, row.desirable) for row in majority.rows] == [(5, True)]
    assert majority.ties == 1
    assert majority.agreement == pytest.approx(3 / 5)


# --- row shapes ---------------------------------------------------------------------------------


def test_the_default_text_template_is_alpacas_layout_without_an_empty_input():
    template = TextTemplate(DEFAULT_TEXT_TEMPLATE)
    with_input = template.render(instruction="Sum up.", input="Long text.", output="Short.")
    assert "### Instruction:\nSum up.\n\n### Input:\nLong text.\n\n### Response:\nShort." in (
        with_input
    )
    without = template.render(instruction="Say hi.", input="", output="Hi!")
    assert "### Input" not in without
    assert without.endswith("### Instruction:\nSay hi.\n\n### Response:\nHi!")


def test_a_template_placeholder_inside_the_text_is_not_replaced_again():
    template = TextTemplate("Q: {instruction}\nA: {output}")
    assert template.render(instruction="Write {output}", input="", output="ok") == (
        "Q: Write {output}\nA: ok"
    )


def test_annotator_pseudonyms_are_stable_short_and_keyed():
    first = annotator_pseudonym(42, key="k1")
    assert first == annotator_pseudonym(42, key="k1")
    assert first != annotator_pseudonym(42, key="k2") != annotator_pseudonym(43, key="k1")
    assert len(first) == 16 and "42" not in first
    assert annotator_pseudonym(None, key="k1") == ""


# --- duplicate detection in batches -----------------------------------------------------------


def test_checking_texts_in_a_batch_answers_as_checking_them_one_by_one():
    rng = random.Random(5)
    words = ["the", "sea", "wind", "night", "poem", "short", "write", "explain", "tree", "river"]
    texts = [" ".join(rng.choices(words, k=12)) + f" {n}" for n in range(200)]
    texts += [text.upper() + "!" for text in texts[:20]] + texts[30:40]
    one_by_one, batched = Deduplicator(), Deduplicator()
    assert [one_by_one.seen(text) for text in texts] == batched.seen_many(texts)
    assert one_by_one.counts == batched.counts
    assert batched.counts.exact >= 10


def test_a_very_long_text_and_its_near_copy_are_recognised():
    long_text = " ".join(f"word{n}" for n in range(20_000))  # longer than one hashing block
    dedupe = Deduplicator()
    assert dedupe.seen_many([long_text, long_text + " and one more"]) == [False, True]
    assert dedupe.counts.near == 1


@pytest.mark.parametrize(
    "text",
    [
        "  Tabs\tand\nnew\r\nlines  ",
        "\uff26\uff35\uff2c\uff2c\u3000\uff57\uff49\uff44\uff54\uff48",  # full width
        "no\u00a0break\u2028sep\x1cfile",
        "Stra\u00dfe \u01c5",
    ],
)
def test_the_fast_normalization_equals_the_one_imports_use(text):
    from labeling.exports.dedupe import normalized
    from labeling.normalize import prompt_normalize

    assert normalized(text) == prompt_normalize(text)
