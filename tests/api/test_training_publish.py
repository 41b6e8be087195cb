"""The training-run endpoint takes the publish policy and reports the gate's decision."""

import pytest
from django.urls import reverse

from tests.api.conftest import client_for
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


def test_an_admin_chooses_what_happens_when_the_run_succeeds(mine):
    client = client_for(mine.admin)
    url = reverse("api:training_runs", args=["mine"])
    body = {"method": "sft", "export": mine.export.pk, "overrides": {"max_steps": 2}}

    default = client.post(url, body, format="json")
    assert default.status_code == 201, default.json()
    assert default.json()["publish"] == "if_better" and default.json()["gate"] == {}
    chosen = client.post(url, {**body, "publish": "manual"}, format="json")
    assert chosen.status_code == 201 and chosen.json()["publish"] == "manual"
    refused = client.post(url, {**body, "publish": "sometimes"}, format="json")
    assert refused.status_code == 400 and "publish" in refused.json()
    assert TrainingRun.objects.get(pk=chosen.json()["id"]).publish == "manual"

    TrainingRun.objects.filter(pk=chosen.json()["id"]).update(
        gate={"verdict": "better", "published": False, "outcome": "mine-v1 stays a candidate"}
    )
    shown = client.get(reverse("api:training_run", args=[chosen.json()["id"]])).json()
    assert shown["gate"]["outcome"] == "mine-v1 stays a candidate"
