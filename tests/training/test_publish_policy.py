"""What happens to a succeeded run's version: manual keeps a candidate, always makes it live,
if_better publishes only when it beats its parent on the held-out rows; a server that refuses
the adapter leaves the run succeeded and the live version serving. The gate's verdict and
reason show on the run's admin page, and every surface that starts a run takes the policy."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import ProjectFactory
from tests.training import test_runs
from tests.training.engine import snapshots as S
from tests.training.test_runs import FAST, candidate, live
from training.engine.gate import Verdict
from training.models import ModelVersion, TrainingRun
from training.services.gate import publish_decision
from training.services.runs import training_run_create, training_run_execute

pytestmark = pytest.mark.django_db

# The run tests' fixtures: the tiny model's project, a preference snapshot, MODELS_DIR, an admin.
project, snapshot = test_runs.project, test_runs.snapshot
models_dir, admin_client = test_runs.models_dir, test_runs.admin_client

NOWHERE = "http://127.0.0.1:9"  # nothing listens on the discard port


@pytest.fixture
def unreachable_server(settings):
    settings.VLLM_URLS = [NOWHERE]
    settings.VLLM_SEND_SEED = False


def start(project, snapshot, publish, base_version=None, **overrides):
    return training_run_create(
        project=project,
        method="dpo",
        snapshot_dir=snapshot,
        base_version=base_version,
        overrides={**FAST, **overrides},
        publish=publish,
        enqueue=False,
    )


def page_of(admin_client, run) -> str:
    return admin_client.get(
        reverse("admin:training_trainingrun_change", args=[run.pk])
    ).content.decode()


def test_if_better_keeps_a_worse_model_a_candidate_and_says_why(
    project, tmp_path, models_dir, unreachable_server, admin_client
):
    # The annotators preferred the friendly answers; this snapshot's train split says the
    # opposite, so the new model moves away from what the held-out pairs prefer.
    flipped = [
        {**row, "chosen": row["rejected"], "rejected": row["chosen"]}
        for row in S.preference_rows(8)
    ]
    data = S.write_snapshot(tmp_path / "flipped", flipped, S.preference_rows(2, offset=8))
    base = live(project)
    run = training_run_execute(run=start(project, data, "if_better"))

    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.result_version.status == ModelVersion.Status.CANDIDATE
    assert live(project).number == 0
    gate = run.gate
    assert (gate["policy"], gate["verdict"], gate["published"]) == (
        "if_better",
        "not better",
        False,
    )
    assert gate["metric"] == "eval_vs_parent_accuracy"
    assert gate["new"] < 0.5 and gate["parent"] == 0.5  # what the parent scores against itself
    assert gate["figures"]["eval_vs_parent_margin"] < 0
    assert gate["error"] == ""  # no server was asked
    assert f"tiny-v1 stays a candidate: not better than {base.served_name}" in gate["outcome"]
    assert "of 2 held-out pairs" in gate["outcome"]
    assert gate["outcome"] in run.log

    html = page_of(admin_client, run)
    assert "Publish only if better than the parent" in html and "not better" in html
    assert "eval_vs_parent_margin" in html and f"({base.served_name})" in html


def test_a_better_model_the_server_refuses_stays_a_candidate_and_the_run_succeeds(
    project, snapshot, models_dir, unreachable_server, admin_client
):
    run = training_run_execute(run=start(project, snapshot, "if_better"))

    assert run.status == TrainingRun.Status.SUCCEEDED and run.error == ""
    assert run.gate["verdict"] == "better" and run.gate["new"] > 0.5
    assert run.gate["published"] is False
    assert "127.0.0.1:9" in run.gate["error"]
    assert "tiny-v1 could not be published and stays a candidate" in run.gate["outcome"]
    assert "could not be published" in run.log
    assert run.result_version.status == ModelVersion.Status.CANDIDATE
    assert live(project).number == 0

    html = page_of(admin_client, run)
    assert "could not be published" in html and "127.0.0.1:9" in html


def test_without_held_out_rows_if_better_cannot_decide(project, snapshot, models_dir):
    run = training_run_execute(run=start(project, snapshot, "if_better", eval=False))

    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.gate["verdict"] == "undecided" and run.gate["published"] is False
    assert "no held-out rows to compare on" in run.gate["outcome"]
    assert run.result_version.status == ModelVersion.Status.CANDIDATE
    assert live(project).number == 0


def test_a_parent_adapter_that_cannot_be_compared_with_is_refused_before_training(
    project, snapshot, tmp_path
):
    parent = candidate(project, tmp_path)  # its adapter directory is empty
    with pytest.raises(ValidationError, match="adapter of tiny-v1 is missing"):
        start(project, snapshot, "if_better", base_version=parent)
    with pytest.raises(ValidationError, match="the run starts from it"):
        start(project, snapshot, "manual", base_version=parent, eval=False)
    assert start(
        project, snapshot, "manual", base_version=parent, eval=False, init_from_parent=False
    ).pk

    (tmp_path / "v1" / "adapter_config.json").write_text("{}")
    (tmp_path / "v1" / "meta.json").write_text(json.dumps({"task": "reward_model"}))
    with pytest.raises(ValidationError, match="tiny-v1 is a reward model"):
        start(project, snapshot, "if_better", base_version=parent)


BETTER = Verdict(True, "eval_vs_parent_accuracy", 1.0, 0.5, "moved towards chosen on 100%")


def finished_run(project, tmp_path, method="dpo", publish="if_better"):
    version = candidate(project, tmp_path, number=1)
    return TrainingRun.objects.create(
        project=project,
        method=method,
        snapshot_dir=str(tmp_path),
        base_version=live(project),
        status=TrainingRun.Status.SUCCEEDED,
        result_version=version,
        publish=publish,
    )


def test_if_better_never_replaces_a_newer_live_version(project, tmp_path):
    run = finished_run(project, tmp_path)
    assert publish_decision(run, BETTER)[0] is True

    newer = candidate(project, tmp_path, number=2)
    ModelVersion.objects.filter(status=ModelVersion.Status.LIVE).update(status="retired")
    ModelVersion.objects.filter(pk=newer.pk).update(status=ModelVersion.Status.LIVE)
    go, why = publish_decision(run, BETTER)
    assert go is False
    assert f"better than {run.base_version.served_name}, but tiny-v2 is live now" in str(why)


@pytest.mark.parametrize("publish", ["always", "if_better", "manual"])
def test_a_reward_model_is_never_published(project, tmp_path, publish):
    run = finished_run(project, tmp_path, method="reward", publish=publish)
    verdict = Verdict(None, "", None, None, "a reward model is not a served policy", False)
    go, why = publish_decision(run, verdict)
    assert go is False and "never published" in str(why)


def test_manual_keeps_even_a_better_model_a_candidate(project, tmp_path):
    go, why = publish_decision(finished_run(project, tmp_path, publish="manual"), BETTER)
    assert go is False and "stays a candidate (publish by hand)" in str(why)


@pytest.mark.vllm
@pytest.mark.django_db(transaction=True)
def test_always_makes_the_new_version_live_on_the_server(vllm_server, settings, tmp_path):
    settings.VLLM_URLS = [vllm_server.url]
    settings.VLLM_SEND_SEED = False
    settings.MODELS_DIR = tmp_path / "models"
    project = ProjectFactory(slug="always")
    base = live(project)
    assert base.served_name == vllm_server.served_name  # the bundled model the server serves
    data = S.write_snapshot(tmp_path / "snapshot", S.preference_rows(4))
    run = training_run_create(
        project=project,
        method="dpo",
        snapshot_dir=data,
        overrides={**FAST, "max_steps": 1, "max_length": 64, "eval": False},
        publish="always",
        enqueue=False,
    )
    run = training_run_execute(run=run)

    assert run.status == TrainingRun.Status.SUCCEEDED, run.error + run.log
    assert run.gate["published"] is True and run.gate["error"] == ""
    assert "always-v1 is live" in run.gate["outcome"]
    assert live(project) == run.result_version
    base.refresh_from_db()
    assert base.status == ModelVersion.Status.RETIRED
    assert "always-v1" in {m.id for m in vllm_server.client.models()}


def test_the_start_form_offers_the_policy_and_defaults_to_if_better(
    project, snapshot, admin_client
):
    changelist = reverse("admin:labeling_project_changelist")
    chosen = {"action": "start_training_run", "_selected_action": [project.pk]}
    form = admin_client.post(changelist, chosen).content.decode()
    assert 'name="publish"' in form
    assert '<option value="if_better" selected>Publish only if better than the parent' in form

    fields = {**chosen, "apply": "1", "method": "dpo", "snapshot_dir": str(snapshot)}
    admin_client.post(changelist, {**fields, "overrides": json.dumps(FAST), "publish": "always"})
    admin_client.post(changelist, {**fields, "overrides": json.dumps(FAST)})
    assert list(TrainingRun.objects.order_by("pk").values_list("publish", flat=True)) == [
        "always",
        "if_better",
    ]


def test_train_command_takes_the_policy(project, snapshot, tmp_path):
    from django.core.management import call_command

    args = ["train", "--project", "tiny", "--method", "dpo", "--data", str(snapshot)]
    call_command(*args)
    call_command(*args, "--publish", "manual")
    assert list(TrainingRun.objects.order_by("pk").values_list("publish", flat=True)) == [
        "if_better",
        "manual",
    ]
