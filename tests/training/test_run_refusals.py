"""A run that could only fail in the worker is refused when it is created, with a message that
says what fits: a method that does not take the export's format, an empty train split, one too
small for the method. The admin's form, the API and `manage.py train` all say so, and no run
is stored."""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from labeling.models import DatasetExport, Role
from labeling.services.exports import dataset_export_create, dataset_export_run
from labeling.services.projects import membership_grant
from labeling.services.queue import task_next
from tests.factories import UserFactory
from tests.training.engine.test_data_paths import (
    ONE_STEP,
    TOPICS,
    prefer_left,
    project_with_prompts,
    thumbs_two_up_one_down,
    work_the_queue,
)
from training.engine.schema import (
    EXPORT_FORMATS_FOR_METHOD,
    METHOD_FOR_EXPORT_FORMAT,
    METHOD_LABELS,
    methods_for_export_format,
)
from training.models import TrainingRun
from training.services.runs import training_run_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"
    settings.MODELS_DIR = tmp_path / "models"


def exported(project, format: str) -> DatasetExport:
    export = dataset_export_run(
        export=dataset_export_create(project=project, format=format, split=(1.0, 0.0, 0.0))
    )
    assert export.status == DatasetExport.Status.DONE, export.error
    return export


@pytest.fixture
def kto_export():
    project = project_with_prompts("rated", kinds=["rate"], completions=3)
    work_the_queue(project, thumbs_two_up_one_down)
    return exported(project, "kto")


def create(export, method: str, **overrides) -> TrainingRun:
    return training_run_create(
        project=export.project,
        method=method,
        export=export,
        overrides={**ONE_STEP, **overrides},
        enqueue=False,
    )


def test_every_export_format_trains_with_a_method_and_preselects_one_that_takes_it():
    for format in DatasetExport.Format.values:
        assert methods_for_export_format(format), format
        assert format in EXPORT_FORMATS_FOR_METHOD[METHOD_FOR_EXPORT_FORMAT[format]]


def test_dpo_on_a_kto_export_is_refused_naming_the_formats_that_fit(kto_export):
    with pytest.raises(ValidationError) as refused:
        create(kto_export, "dpo")
    message = refused.value.message_dict["method"][0]
    assert message == (
        "DPO trains on preference exports, not on kto ones; kto exports train with KTO."
    )
    assert not TrainingRun.objects.exists()
    assert create(kto_export, "kto").status == TrainingRun.Status.QUEUED  # the fitting one


def test_sft_takes_every_demonstration_format_and_no_preference_export():
    project = project_with_prompts("pairs", kinds=["compare"], completions=2)
    work_the_queue(project, prefer_left)
    with pytest.raises(ValidationError) as refused:
        create(exported(project, "preference"), "sft")
    assert refused.value.message_dict["method"] == [
        "Supervised fine-tuning trains on alpaca or dolly or messages or text exports, not on "
        "preference ones; preference exports train with Reward model, DPO, ORPO, RLHF (reward "
        "model + RLOO/GRPO)."
    ]
    assert not TrainingRun.objects.exists()


def test_an_export_with_an_empty_train_split_is_refused():
    project = project_with_prompts("unjudged", kinds=["compare"], completions=2)
    export = exported(project, "preference")  # prompts and completions, no judgement yet
    assert export.rows_train == 0

    with pytest.raises(ValidationError) as refused:
        create(export, "dpo")
    assert refused.value.message_dict["export"] == [
        f"Export #{export.pk} cannot train dpo: its train split is empty (0 train, "
        "0 validation, 0 test rows): nothing to train on."
    ]
    assert not TrainingRun.objects.exists()


def test_a_train_split_too_small_for_the_method_is_refused_with_the_numbers():
    project = project_with_prompts("few", kinds=["compare"], completions=2)
    annotator = UserFactory(username="one-judge")
    for _ in range(3):  # three pairs: DPO needs four
        prefer_left(task_next(annotator=annotator, project=project), annotator)
    export = exported(project, "preference")
    assert export.rows_train == 3

    with pytest.raises(ValidationError) as refused:
        create(export, "dpo")
    assert refused.value.message_dict["export"] == [
        f"Export #{export.pk} cannot train dpo: too few preference pairs for the train split: "
        "3; dpo needs at least 4 (3 train, 0 validation, 0 test rows)."
    ]
    assert not TrainingRun.objects.exists()


def test_kto_with_a_batch_larger_than_the_train_split_is_refused(kto_export):
    rows = kto_export.rows_train
    assert rows == 3 * len(TOPICS)
    with pytest.raises(ValidationError, match=r"KTO needs at least batch_size \(32\) train rows"):
        create(kto_export, "kto", batch_size=32)
    assert not TrainingRun.objects.exists()


def test_the_admin_offers_only_the_methods_that_fit_the_export(client, kto_export):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    changelist = reverse("admin:labeling_datasetexport_changelist")
    chosen = {"action": "train_on_export", "_selected_action": [kto_export.pk]}
    form = client.post(changelist, chosen)
    assert form.context["form"]["method"].value() == "kto"  # the method that fits, preselected
    assert [value for value, _ in form.context["form"].fields["method"].choices] == ["kto"]

    refused = client.post(
        changelist,
        {
            **chosen,
            "apply": "1",
            "method": "dpo",
            "export": kto_export.pk,
            "publish": "manual",
            "overrides": json.dumps(ONE_STEP),
        },
    )
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert not TrainingRun.objects.exists()


def test_the_admin_form_shows_the_refusal_and_starts_nothing(client, kto_export):
    """From the project's "Start training run…" every method is offered; the service's
    refusal is shown on the form at the click."""
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    changelist = reverse("admin:labeling_project_changelist")
    chosen = {"action": "start_training_run", "_selected_action": [kto_export.project.pk]}
    refused = client.post(
        changelist,
        {
            **chosen,
            "apply": "1",
            "method": "dpo",
            "export": kto_export.pk,
            "publish": "manual",
            "overrides": json.dumps(ONE_STEP),
        },
    )
    assert refused.status_code == 200
    assert "kto exports train with KTO" in refused.content.decode()
    assert not TrainingRun.objects.exists()


def test_the_api_and_the_command_refuse_the_same(kto_export):
    admin = UserFactory(username="api-admin")
    membership_grant(project=kto_export.project, user=admin, role=Role.ADMIN)
    api = APIClient()
    api.force_authenticate(admin)
    answer = api.post(
        reverse("api:training_runs", args=[kto_export.project.slug]),
        {"method": "dpo", "export": kto_export.pk, "overrides": ONE_STEP},
        format="json",
    )
    assert answer.status_code == 400
    assert "kto exports train with KTO" in answer.json()["method"][0]

    with pytest.raises(CommandError, match="kto exports train with KTO"):
        call_command(
            "train",
            "--project",
            kto_export.project.slug,
            "--method",
            "dpo",
            "--export",
            str(kto_export.pk),
        )
    assert not TrainingRun.objects.exists()


def test_an_export_that_holds_nothing_out_cannot_be_published_only_if_better(kto_export):
    """With no held-out rows there is nothing to compare the new version and its parent on:
    "better than the parent" is refused at the click, the other policies are not."""
    assert kto_export.manifest["held_out"] is False
    with pytest.raises(ValidationError) as refused:
        training_run_create(
            project=kto_export.project,
            method="kto",
            export=kto_export,
            overrides=ONE_STEP,
            publish=TrainingRun.Publish.IF_BETTER,
            enqueue=False,
        )
    assert "holds no rows out" in refused.value.message_dict["publish"][0]
    assert not TrainingRun.objects.exists()

    run = training_run_create(
        project=kto_export.project,
        method="kto",
        export=kto_export,
        overrides=ONE_STEP,
        publish=TrainingRun.Publish.ALWAYS,
        enqueue=False,
    )
    assert run.publish == TrainingRun.Publish.ALWAYS


HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_a_korean_admin_reads_the_refusal_in_korean_with_the_method_names_translated(
    client, kto_export
):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    changelist = reverse("admin:labeling_project_changelist")
    chosen = {"action": "start_training_run", "_selected_action": [kto_export.project.pk]}
    fields = {"apply": "1", "export": kto_export.pk, "overrides": json.dumps(ONE_STEP)}
    refused = client.post(
        changelist,
        {**chosen, **fields, "method": "dpo", "publish": "manual"},
        HTTP_ACCEPT_LANGUAGE="ko",
    )
    assert refused.status_code == 200
    errors = refused.context["form"].non_field_errors()
    assert len(errors) == 1 and HANGUL.search(errors[0]), errors
    assert "exports train with" not in errors[0] and "trains on" not in errors[0]
    with translation.override("ko"):
        kto_label = translation.gettext(METHOD_LABELS["kto"])
        dpo_label = translation.gettext(METHOD_LABELS["dpo"])
    assert kto_label in errors[0] and dpo_label in errors[0]

    held_out = client.post(
        changelist,
        {**chosen, **fields, "method": "kto", "publish": "if_better"},
        HTTP_ACCEPT_LANGUAGE="ko",
    )
    publish_error = held_out.context["form"].non_field_errors()[0]
    assert HANGUL.search(publish_error) and "holds no rows out" not in publish_error
    assert not TrainingRun.objects.exists()


def test_an_empty_train_split_is_refused_in_korean_through_the_api():
    project = project_with_prompts("unjudged-ko", kinds=["compare"], completions=2)
    export = exported(project, "preference")
    admin = UserFactory(username="api-admin-ko")
    membership_grant(project=project, user=admin, role=Role.ADMIN)
    api = APIClient()
    api.force_authenticate(admin)
    answer = api.post(
        reverse("api:training_runs", args=[project.slug]),
        {"method": "dpo", "export": export.pk, "overrides": ONE_STEP},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ko",
    )
    assert answer.status_code == 400
    message = answer.json()["export"][0]
    assert HANGUL.search(message) and "nothing to train on" not in message
    assert f"#{export.pk}" in message and "0 train, 0 validation, 0 test" in message
