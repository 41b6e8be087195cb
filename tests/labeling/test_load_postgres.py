"""Annotators at once over HTTP, against the real server (gunicorn, several workers) on
PostgreSQL: every judgement the server accepts is stored once, nothing else is, nobody judges
an item twice, no item goes past its overlap, and no request fails with a 5xx.

A smaller run of `python -m bench load` (bench/load/, the one home of the simulation).
"""

from collections import Counter

import pytest
from django.db import connection

from bench.load.annotators import annotators_run
from bench.load.checks import load_verify
from bench.load.seed import OVERLAP, load_seed, prompts_for
from bench.load.server import Gunicorn
from labeling.models import Judgement, QueueItem
from tests.fixtures.databases import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ANNOTATORS = 20
JUDGEMENTS = 400
WORKERS = 3


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("several server processes on one database: runs on PostgreSQL (DATABASE_URL)")


def test_annotators_over_http_lose_nothing_duplicate_nothing_and_stay_within_the_overlap(
    postgres_only, tmp_path
):
    project, tokens = load_seed(annotators=ANNOTATORS, prompts=prompts_for(JUDGEMENTS))
    with Gunicorn(database_url=database_url(), var_dir=tmp_path, workers=WORKERS) as server:
        outcome = annotators_run(
            base_url=server.url, slug=project.slug, tokens=tokens, judgements=JUDGEMENTS
        )
        log = server.log_tail()
    verdict = load_verify(project=project, outcome=outcome)

    server_errors = {key: n for key, n in outcome.statuses.items() if key[1] >= 500}
    assert not server_errors, f"{server_errors}\n{log}"
    assert verdict.no_answer == 0, log
    assert not outcome.errors, outcome.errors
    assert len(outcome.accepted) == JUDGEMENTS  # every judgement asked for was taken
    assert (verdict.lost, verdict.unacknowledged) == (0, 0)  # stored exactly when accepted
    assert Judgement.objects.count() == JUDGEMENTS
    assert verdict.duplicated == 0
    per_person = Counter(Judgement.objects.values_list("prompt_id", "kind", "annotator_id"))
    assert set(per_person.values()) == {1}
    per_item = Counter(Judgement.objects.values_list("prompt_id", "kind"))
    assert max(per_item.values()) == OVERLAP  # items filled up, and none past it
    assert verdict.overlap_exceeded == 0
    assert max(QueueItem.objects.values_list("taken", flat=True)) <= OVERLAP
    assert verdict.ok, verdict.problems
