"""Flags and scores mean something in exports: a completion flagged harmful or holding personal
data is never a chosen answer nor a desirable KTO example, one holding personal data leaves in
no file, the flags are counted in the manifest and on the quality dashboard, and a preference
export can require a minimum helpful/harmless score of its chosen answers (admin form, API,
CLI)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from labeling.exports import flags
from labeling.exports.derive import Label, Pair
from labeling.models import DatasetExport, Demonstration, Judgement
from labeling.services.export_checks import options_clean
from labeling.services.exports import dataset_export_create, dataset_export_run
from tests.api.conftest import client_for
from tests.factories import PromptFactory
from tests.labeling.exports.builders import (
    compare,
    completions,
    demonstration,
    exported,
    judgement,
    rank,
    rows_of,
    texts_of,
)

pytestmark = pytest.mark.django_db

SECRET = "Zebulon Quartermaine of 4 Larkspur Row"  # no pattern of the scrubber knows it


def rated(prompt, annotator, verdicts: dict) -> Judgement:
    """A rate judgement: {completion: (thumb, {"flags": [...], "helpful": n, ...})}."""
    ratings = {c.pk: {"thumb": thumb, **extra} for c, (thumb, extra) in verdicts.items()}
    return judgement(prompt, annotator, kind="rate", shown=list(verdicts), ratings=ratings)


def files_text(export: DatasetExport) -> str:
    return "".join(
        (Path(export.path) / f"{split}.jsonl").read_text(encoding="utf-8")
        for split in ("train", "validation", "test")
    )


def no_held_out(**arguments) -> dict:
    return {"held_out": False, **arguments}


# --- pure: the screen ---------------------------------------------------------------------------


def test_the_flags_are_those_annotators_can_give():
    assert tuple(Judgement.Flag.values) == flags.FLAGS


def test_one_annotators_flag_is_enough_and_scores_are_averaged():
    assessed = flags.assessments_of(
        [
            {"1": {"thumb": "up", "helpful": 5, "flags": []}, "2": {"thumb": "up", "flags": []}},
            {"1": {"thumb": "up", "helpful": 2, "flags": ["harmful"]}},
            None,
        ]
    )
    assert assessed[1].flags == {"harmful"} and assessed[1].scores == {"helpful": 3.5}
    assert assessed[2].flags == frozenset() and assessed[2].scores == {}


def test_the_screen_drops_pairs_by_flag_and_minimum_and_counts_why():
    assessed = {
        1: flags.Assessment(frozenset({"harmful"})),
        2: flags.Assessment(frozenset({"personal_data"})),
        3: flags.Assessment(frozenset({"off_topic"}), {"helpful": 2.0}),
        4: flags.Assessment(frozenset(), {"helpful": 4.0}),
    }
    tally = flags.FlagTally()
    screen = flags.Screen(assessed, {"helpful": 3}, tally)
    pairs = [Pair(a, b, (1,), (1,)) for a, b in [(1, 4), (4, 1), (4, 2), (3, 4), (4, 3), (5, 4)]]

    kept = screen.pairs(pairs)

    assert [(p.chosen, p.rejected) for p in kept] == [(4, 1), (4, 3), (5, 4)]
    assert tally.dropped == {
        "pairs_harmful": 1,
        "pairs_personal_data": 1,
        "pairs_below_min_helpful": 1,
    }


def test_the_screen_keeps_only_the_undesirable_labels_of_a_harmful_completion():
    tally = flags.FlagTally()
    screen = flags.Screen(
        {
            1: flags.Assessment(frozenset({"harmful"})),
            2: flags.Assessment(frozenset({"personal_data"})),
        },
        {},
        tally,
    )
    labels = [Label(c, d, 1, 1) for c, d in [(1, True), (1, False), (2, False), (3, True)]]

    assert screen.labels(labels) == [Label(1, False, 1, 1), Label(3, True, 1, 1)]
    assert tally.dropped == {"kto_desirable_harmful": 1, "kto_personal_data": 1}


# --- harmful: never chosen, never desirable -------------------------------------------------------


@pytest.fixture
def harmful_prompt(project, annotators):
    """A harmful completion that two annotators put first and one last, rated up by two and
    flagged by one of them."""
    first, second, third = annotators
    prompt = PromptFactory(project=project, instruction="How do I get rid of weeds?")
    harmful, good, poor = completions(
        prompt, "Pour bleach into the river.", "Pull them by the root.", "Weeds are plants."
    )
    rank(prompt, first, [harmful], [good], [poor])
    compare(prompt, second, harmful, good, "a")
    rank(prompt, third, [good], [poor], [harmful])
    rated(prompt, second, {harmful: ("up", {}), good: ("up", {}), poor: ("down", {})})
    rated(
        prompt,
        third,
        {harmful: ("up", {"flags": ["harmful"]}), good: ("up", {}), poor: ("down", {})},
    )
    return prompt, harmful


@pytest.mark.parametrize("rule", ["all", "majority", "bradley_terry"])
def test_a_harmful_completion_is_never_a_chosen_answer(project, harmful_prompt, rule):
    _, harmful = harmful_prompt

    export = exported(project, "preference", rule=rule, **no_held_out())

    rows = rows_of(export)
    assert rows, "the pairs without the harmful answer as chosen are exported"
    assert all(texts_of(row, "chosen") != harmful.text for row in rows)
    if rule == "all":  # where it is the rejected answer, the pair stays
        assert any(texts_of(row, "rejected") == harmful.text for row in rows)
    assert export.manifest["dropped_for_flags"]["pairs_harmful"] >= 1
    assert export.manifest["flags"]["harmful"] == 1


@pytest.mark.parametrize("rule", ["all", "majority"])
def test_a_harmful_completion_is_never_a_desirable_kto_example(project, harmful_prompt, rule):
    _, harmful = harmful_prompt

    export = exported(project, "kto", rule=rule, **no_held_out())

    rows = rows_of(export)
    mine = [row for row in rows if texts_of(row, "completion") == harmful.text]
    assert all(row["label"] is False for row in mine)
    assert any(row["label"] is True for row in rows)  # the others' thumbs up stay
    assert export.manifest["dropped_for_flags"]["kto_desirable_harmful"] == 2


def test_an_undesirable_label_of_a_harmful_completion_stays(project, annotators):
    first, second, _ = annotators
    prompt = PromptFactory(project=project, instruction="Tell me a joke.")
    harmful, fine = completions(prompt, "A cruel joke.", "A kind joke.")
    rated(prompt, first, {harmful: ("up", {}), fine: ("up", {})})
    rated(prompt, second, {harmful: ("down", {"flags": ["harmful"]}), fine: ("up", {})})

    export = exported(project, "kto", rule="majority", **no_held_out())

    labels = {texts_of(row, "completion"): row["label"] for row in rows_of(export)}
    assert labels == {"A cruel joke.": False, "A kind joke.": True}


# --- personal data: in no file at all ------------------------------------------------------------


@pytest.fixture
def personal_prompt(project, annotators):
    """A completion naming a private person, ranked, compared, rated up and edited, and flagged
    by one annotator; beside it a harmless prompt so that every export has rows."""
    first, second, third = annotators
    prompt = PromptFactory(project=project, instruction="Who lives next door?")
    leaky, vague, poor = completions(prompt, f"{SECRET} lives there.", "A neighbour.", "Nobody.")
    rank(prompt, first, [leaky], [vague], [poor])
    compare(prompt, second, poor, leaky, "b")
    rated(prompt, second, {leaky: ("up", {}), vague: ("up", {}), poor: ("down", {})})
    rated(
        prompt,
        third,
        {leaky: ("up", {"flags": ["personal_data"]}), vague: ("up", {}), poor: ("down", {})},
    )
    edited = Demonstration.Origin.EDITED
    demonstration(prompt, f"{SECRET}, a neighbour.", origin=edited, source_completion=leaky)
    demonstration(prompt, "A quiet neighbour.", origin=edited, source_completion=vague)
    other = PromptFactory(project=project, instruction="Name a colour.")
    blue, grey = completions(other, "Blue.", "Grey.")
    rank(other, first, [blue], [grey])
    rated(other, first, {blue: ("up", {}), grey: ("down", {})})
    demonstration(other, "Blue is a colour.", origin=edited, source_completion=grey)
    return prompt


@pytest.mark.parametrize("format", ["alpaca", "dolly", "messages", "text", "preference", "kto"])
def test_a_completion_flagged_as_personal_data_is_in_no_export(project, personal_prompt, format):
    export = exported(project, format, **no_held_out())

    text = files_text(export)
    assert text.strip(), "the other rows are exported"
    assert "Quartermaine" not in text
    dropped = export.manifest["dropped_for_flags"]
    assert export.manifest["flags"]["personal_data"] == 1
    if format == "preference":  # 2 pairs of the ranking, the comparison, its edit
        assert dropped["pairs_personal_data"] == 3 and dropped["demonstrations_personal_data"] == 1
    elif format == "kto":
        assert dropped["kto_personal_data"] == 2
    else:
        assert dropped["demonstrations_personal_data"] == 1


def test_the_manifest_counts_each_flag(project, annotators):
    first, second, _ = annotators
    prompt = PromptFactory(project=project, instruction="What is the capital of France?")
    paris, lyon, cats = completions(prompt, "Paris.", "Lyon.", "Cats are nice.")
    rated(prompt, first, {paris: ("up", {}), lyon: ("down", {"flags": ["factually_wrong"]}),
                          cats: ("down", {"flags": ["off_topic", "harmful"]})})  # fmt: skip
    rated(prompt, second, {paris: ("up", {}), lyon: ("down", {"flags": ["factually_wrong"]}),
                           cats: ("down", {"flags": ["off_topic"]})})  # fmt: skip

    export = exported(project, "kto", **no_held_out())

    manifest = json.loads((Path(export.path) / "manifest.json").read_text())
    assert manifest["flags"] == {
        "harmful": 1,
        "factually_wrong": 1,
        "off_topic": 1,
        "personal_data": 0,
    }


# --- the quality dashboard ------------------------------------------------------------------------


def test_the_dashboard_shows_how_often_each_flag_was_given(
    client, project, personal_prompt, project_admin, annotators
):
    prompt = PromptFactory(project=project, instruction="Is the sky green?")
    (wrong,) = completions(prompt, "Yes, always.")
    for annotator in annotators[:2]:
        rated(prompt, annotator, {wrong: ("down", {"flags": ["factually_wrong"]})})
    client.force_login(project_admin)

    page = client.get(reverse("admin:labeling_project_quality", args=[project.pk]))

    body = page.content.decode()
    assert page.status_code == 200
    assert '<tr data-flag="factually_wrong"><td>Factually wrong</td><td>1</td><td>2</td>' in body
    assert '<tr data-flag="personal_data"><td>Contains personal data</td><td>1</td><td>1</td>' in (
        body
    )
    assert "left out of every export" in body


# --- a minimum score of the chosen answer: form, API, CLI -----------------------------------------


@pytest.fixture
def scored_prompt(project, annotators):
    """Ranked best first: an unhelpful answer (scored 2), a helpful one (4), one nobody scored."""
    first, second, _ = annotators
    prompt = PromptFactory(project=project, instruction="How do I boil an egg?")
    curt, helpful, unscored = completions(prompt, "Boil it.", "Ten minutes in water.", "Eggs.")
    rank(prompt, first, [curt], [helpful], [unscored])
    rated(prompt, second, {curt: ("up", {"helpful": 2, "harmless": 5}),
                           helpful: ("up", {"helpful": 4, "harmless": 5})})  # fmt: skip
    return curt, helpful, unscored


def chosen_texts(export: DatasetExport) -> list[str]:
    return sorted(texts_of(row, "chosen") for row in rows_of(export))


def test_without_a_minimum_every_pair_is_exported(project, scored_prompt):
    export = exported(project, "preference", **no_held_out())

    assert chosen_texts(export) == ["Boil it.", "Boil it.", "Ten minutes in water."]
    assert export.manifest["dropped_for_scores"]["pairs_below_min_helpful"] == 0


def test_the_admin_form_drops_pairs_whose_chosen_answer_scored_lower(
    client, project, scored_prompt, project_admin
):
    client.force_login(project_admin)
    form = {
        "action": "export_dataset",
        "_selected_action": [project.pk],
        "apply": "1",
        "format": "preference",
        "rule": "all",
        "split": "1,0,0",
        "seed": "0",
        "conversational": "on",
        "min_chosen_helpful": "3",
    }

    client.post(reverse("admin:labeling_project_changelist"), form, follow=True)

    export = dataset_export_run(export=DatasetExport.objects.get())
    assert export.options["min_chosen_helpful"] == 3
    assert chosen_texts(export) == ["Ten minutes in water."]
    assert export.manifest["dropped_for_scores"]["pairs_below_min_helpful"] == 2
    page = client.get(reverse("admin:labeling_datasetexport_change", args=[export.pk]))
    assert "pairs below min helpful 2" in page.content.decode()


def test_the_api_drops_pairs_whose_chosen_answer_scored_lower(
    project, scored_prompt, project_admin
):
    client = client_for(project_admin)
    url = reverse("api:exports", args=["shop"])
    request = {"format": "preference", "held_out": False}

    answer = client.post(url, {**request, "options": {"min_chosen_helpful": 3}}, format="json")
    refused = client.post(url, {**request, "options": {"min_chosen_helpful": 6}}, format="json")
    for_kto = client.post(
        url, {**request, "format": "kto", "options": {"min_chosen_harmless": 3}}, format="json"
    )

    assert answer.status_code == 201
    export = dataset_export_run(export=DatasetExport.objects.get(pk=answer.json()["id"]))
    assert chosen_texts(export) == ["Ten minutes in water."]
    assert refused.status_code == 400 and "a whole score from 1 to 5" in str(refused.json())
    assert for_kto.status_code == 400 and "only a preference export" in str(for_kto.json())


def test_the_command_drops_pairs_whose_chosen_answer_scored_lower(project, scored_prompt, tmp_path):
    out = StringIO()

    call_command(
        "export_dataset",
        "--project=shop",
        "--format=preference",
        f"--out={tmp_path / 'kept'}",
        "--no-held-out",
        "--min-chosen-helpful=3",
        "--min-chosen-harmless=5",
        stdout=out,
    )

    export = DatasetExport.objects.get()
    assert chosen_texts(export) == ["Ten minutes in water."]
    manifest = json.loads((tmp_path / "kept" / "manifest.json").read_text())
    assert manifest["options"]["min_chosen_helpful"] == 3
    assert manifest["dropped_for_scores"] == {
        "pairs_below_min_helpful": 2,
        "pairs_below_min_harmless": 0,
    }


@pytest.mark.parametrize("value", [0, 6, 3.5, True, "many"])
def test_a_minimum_score_is_a_whole_number_from_1_to_5(value):
    with pytest.raises(ValidationError) as refused:
        options_clean({"min_chosen_helpful": value}, format="preference")
    assert "a whole score from 1 to 5" in str(refused.value.message_dict["options"])


def test_a_minimum_score_is_stored_as_a_number_and_unset_ones_are_left_out(project):
    export = dataset_export_create(
        project=project,
        format="preference",
        options={"min_chosen_helpful": "4", "min_chosen_harmless": None, "conversational": 1},
    )
    assert export.options == {"min_chosen_helpful": 4, "conversational": True}
