"""The model drafts, people decide: drafting jobs, the review of drafted instructions, drafted
answers in the edit task, and provenance in exports (labeling.services.drafting)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from labeling.models import (
    Completion,
    Demonstration,
    DraftingJob,
    DraftPrompt,
    Membership,
    Prompt,
    Role,
)
from labeling.provenance import edit_distance
from labeling.services.drafting import (
    DraftFilter,
    Proposal,
    draft_review,
    drafting_job_create,
    drafting_job_run,
    proposals_keep,
    proposals_parse,
)
from labeling.services.projects import project_create
from labeling.services.prompts import prompt_create
from labeling.services.queue import demonstration_submit, task_next
from serving.services import model_server_record_failure
from tests.factories import CompletionFactory, ProjectFactory, UserFactory
from tests.labeling.exports.builders import exported, rows_of
from training.selectors.versions import live_version

pytestmark = pytest.mark.django_db

SEEDS = (
    ("Write a haiku about rain.", "", "creative_writing"),
    ("Give three tips for sleeping better.", "", "brainstorming"),
    ("Summarize the paragraph in one sentence.", "Bees carry pollen from flower to flower, "
     "which lets plants make seeds and fruit.", "summarization"),
    ("Name two rivers in Europe.", "", "open_qa"),
)  # fmt: skip


def _project(**kwargs):
    project = project_create(
        name="Drafts", slug="drafts", completions_per_prompt=2, max_tokens=24, **kwargs
    )
    for instruction, input_, category in SEEDS:
        prompt_create(
            project=project, instruction=instruction, input=input_, category=category,
            language="en",
        )  # fmt: skip
    return project


def _member(project, role=Role.ANNOTATOR):
    user = UserFactory()
    Membership.objects.create(project=project, user=user, role=role)
    return user


def _drafts(project, count):
    job = DraftingJob.objects.create(project=project, count=count)
    return [
        DraftPrompt.objects.create(
            project=project,
            job=job,
            instruction=f"Draft number {i}: list {i + 2} colours.",
            category="brainstorming",
            language="en",
            drafted_by="teacher",
            drafted_version="teacher at http://teacher",
        )
        for i in range(count)
    ]


# --- parsing and near-duplicates (no server) ------------------------------------------------


def test_numbered_tasks_with_inputs_are_parsed_and_chatter_is_not_an_instruction():
    text = (
        "Sure! Here are new tasks:\n"
        "Task 5: Translate the sentence into French.\nInput: The cat sleeps.\n"
        "6. **Write a limerick about a lighthouse keeper.**\n"
        "Task 7: Ok\n"  # too short to be an instruction
        "8) Explain why the sky is blue\nto a child.\nInput: none\n"
    )
    proposals = proposals_parse(text, category="c", language="en")
    assert [(p.instruction, p.input) for p in proposals] == [
        ("Translate the sentence into French.", "The cat sleeps."),
        ("Write a limerick about a lighthouse keeper.", ""),
        ("Explain why the sky is blue to a child.", ""),
    ]


def test_the_filter_drops_rewordings_by_minhash_and_by_rouge_l():
    draft_filter = DraftFilter([("Write a haiku about rain.", "")])
    assert not draft_filter.keep("  WRITE a haiku about   rain. ")  # exact after normalizing
    assert not draft_filter.keep("Write me a short haiku about the rain.")  # ROUGE-L >= 0.7
    assert draft_filter.keep("Explain how a refrigerator keeps food cold.")
    assert not draft_filter.keep("Explain how a refrigerator keeps the food cold.")
    # The same long input under a reworded instruction: MinHash over instruction and input.
    paragraph = " ".join(f"In year {1900 + i} the river rose {i} feet." for i in range(40))
    assert draft_filter.keep("Summarize the paragraph.", paragraph)
    assert not draft_filter.keep("Give the gist of this text.", paragraph)
    assert draft_filter.keep("비 오는 날에 대한 짧은 시를 써 주세요.")
    assert not draft_filter.keep("비 오는 날에 대한 짧은 시를 써 주세요!")


# --- the job with the real server ------------------------------------------------------------


@pytest.mark.vllm
@pytest.mark.django_db(transaction=True)
def test_a_drafting_job_drafts_new_instructions_and_drops_a_planted_duplicate(
    live_server_settings, django_capture_on_commit_callbacks
):
    project = _project()
    with django_capture_on_commit_callbacks(execute=False):
        job = drafting_job_create(project=project, count=6, temperature=1.0)

    job = drafting_job_run(job=job)

    job.refresh_from_db()
    assert job.status == DraftingJob.Status.DONE, job.message
    drafts = list(DraftPrompt.objects.filter(project=project))
    assert 0 < len(drafts) <= 6 and job.drafted == len(drafts)
    assert all(d.status == DraftPrompt.Status.PENDING for d in drafts)
    assert all(d.drafted_by == live_server_settings.BASE_MODEL_NAME for d in drafts)
    assert job.requests > 0 and job.model_name
    # Nothing drafted repeats a seed prompt, and nothing unreviewed is a prompt.
    seeds = {normal for normal, _, _ in SEEDS}
    assert not seeds & {d.instruction for d in drafts}
    assert Prompt.objects.filter(project=project).count() == len(SEEDS)
    # A second round's proposals: a seed reworded, a draft of the job repeated, one new task.
    planted = [
        Proposal("write a HAIKU about rain!", "", "creative_writing", "en"),
        Proposal(drafts[0].instruction + " ", drafts[0].input, drafts[0].category, "en"),
        Proposal("Describe the smell of a pine forest after a storm.", "", "open_qa", "en"),
    ]
    kept, dropped = proposals_keep(project=project, proposals=planted)
    assert [p.instruction for p in kept] == [planted[2].instruction] and dropped == 2


def test_the_drafting_server_down_leaves_the_job_waiting_and_annotators_keep_working(
    client, django_capture_on_commit_callbacks
):
    project = _project(task_kinds=["answer"])
    project.drafting_url, project.drafting_model = "http://127.0.0.1:1", "teacher"
    project.save()
    with django_capture_on_commit_callbacks(execute=True):
        job = drafting_job_create(project=project, count=4)
    queued = DBTaskResult.objects.filter(task_path__endswith="drafting_job_task")
    assert queued.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        job = drafting_job_run(job=job)

    job.refresh_from_db()
    assert job.status == DraftingJob.Status.WAITING and job.attempts == 1
    assert "http://127.0.0.1:1" in job.message and "Trying again in 5 s" in job.message
    retry = queued.order_by("-enqueued_at").first()
    assert queued.count() == 2 and retry.run_after > job.started_at
    assert DraftPrompt.objects.count() == 0
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    admin_page = client.get(reverse("admin:labeling_draftingjob_change", args=[job.pk]))
    assert 'class="warning"' in admin_page.content.decode()
    assert "did not answer" in admin_page.content.decode()
    # Annotators keep their other work: a task, the workspace, the (empty) drafts page.
    annotator = _member(project)
    assert task_next(annotator=annotator, project=project) is not None
    client.force_login(annotator)
    assert client.get(reverse("labeling:workspace", args=[project.slug])).status_code == 200
    page = client.get(reverse("labeling:drafts", args=[project.slug]))
    assert page.status_code == 200 and "No drafted instruction waits" in page.content.decode()
    # Still down at every retry: the job gives up with a clear message, never a crash.
    for _ in range(8):
        with django_capture_on_commit_callbacks(execute=True):
            job = drafting_job_run(job=job)
    job.refresh_from_db()
    assert job.status == DraftingJob.Status.FAILED and "did not answer after 8 tries" in job.message


@pytest.mark.vllm
@pytest.mark.django_db(transaction=True)
def test_a_waiting_job_resumes_on_the_projects_own_drafting_server_once_it_answers(
    live_server_settings, vllm_server, django_capture_on_commit_callbacks
):
    project = _project()
    project.drafting_url, project.drafting_model = "http://127.0.0.1:1", vllm_server.served_name
    project.save()
    with django_capture_on_commit_callbacks(execute=False):
        job = drafting_job_create(project=project, count=3, temperature=1.0)
    with django_capture_on_commit_callbacks(execute=False):
        job = drafting_job_run(job=job)
    assert job.status == DraftingJob.Status.WAITING

    project.drafting_url = vllm_server.url  # the drafting server is up (its own URL)
    project.save()
    job = drafting_job_run(job=DraftingJob.objects.get(pk=job.pk))

    job.refresh_from_db()
    assert job.status == DraftingJob.Status.DONE and job.attempts == 0, job.message
    drafts = DraftPrompt.objects.filter(job=job)
    assert drafts.exists(), job.message
    assert {d.drafted_version for d in drafts} == {
        f"{vllm_server.served_name} at {vllm_server.url.rstrip('/')}"
    }


def test_a_drafting_job_needs_example_prompts_and_a_usable_temperature():
    project = project_create(name="Empty", slug="empty")
    with pytest.raises(ValidationError, match="examples"):
        drafting_job_create(project=project, count=3)
    with pytest.raises(ValidationError, match="temperature"):
        drafting_job_create(project=_project(), count=3, temperature=0)


# --- review --------------------------------------------------------------------------------


def test_accepted_and_edited_drafts_become_prompts_with_provenance_rejected_ones_do_not():
    project = _project()
    accepted, edited, rejected = _drafts(project, 3)
    annotator = _member(project)

    draft_review(draft=accepted, reviewer=annotator, decision="accept")
    draft_review(
        draft=edited, reviewer=annotator, decision="edit",
        instruction="Draft number 1: list three colours of the sea.",
    )  # fmt: skip
    draft_review(draft=rejected, reviewer=annotator, decision="reject", reason="unclear")

    first, second = (d.prompt for d in DraftPrompt.objects.exclude(prompt=None).order_by("pk"))
    assert first.instruction == accepted.instruction and first.source == "drafted"
    assert first.drafted_by == "teacher at http://teacher" and first.draft_edit_distance == 0
    assert second.instruction == "Draft number 1: list three colours of the sea."
    assert second.draft_edit_distance == edit_distance(edited.instruction, second.instruction) > 0
    edited.refresh_from_db()
    assert edited.status == DraftPrompt.Status.EDITED and edited.instruction.endswith("colours.")
    rejected.refresh_from_db()
    assert rejected.status == DraftPrompt.Status.REJECTED and rejected.prompt is None
    assert rejected.reject_reason == "unclear"
    with pytest.raises(ValidationError, match="reviewed this draft already"):
        draft_review(draft=rejected, reviewer=annotator, decision="accept")


def test_a_rejection_needs_a_reason_from_the_list_and_outsiders_may_not_review():
    project = _project()
    (draft,) = _drafts(project, 1)
    with pytest.raises(ValidationError, match="why"):
        draft_review(draft=draft, reviewer=_member(project), decision="reject", reason="meh")
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        draft_review(draft=draft, reviewer=UserFactory(), decision="accept")


def test_the_review_page_accepts_edits_and_rejects_by_plain_forms(client):
    project = _project()
    first, second, third = _drafts(project, 3)
    client.force_login(_member(project))
    url = reverse("labeling:drafts", args=[project.slug])

    page = client.get(url).content.decode()
    assert first.instruction in page and "3 drafted instructions wait" in page
    client.post(url, {"draft": first.pk, "decision": "accept"})
    response = client.post(
        url, {"draft": second.pk, "decision": "edit", "instruction": "List four colours.",
              "input": ""}, HTTP_HX_REQUEST="true",
    )  # fmt: skip
    fragment = response.content.decode()
    assert third.instruction in fragment and "<html" not in fragment
    client.post(url, {"draft": third.pk, "decision": "reject", "reason": "out_of_scope"})

    assert "No drafted instruction waits" in client.get(url).content.decode()
    statuses = list(DraftPrompt.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["accepted", "edited", "rejected"]
    assert Prompt.objects.filter(project=project, instruction="List four colours.").exists()


# --- drafted answers -----------------------------------------------------------------------


@pytest.mark.vllm
@pytest.mark.django_db(transaction=True)
def test_drafted_answers_reach_the_edit_task_and_the_edit_records_its_provenance(
    live_server_settings, django_capture_on_commit_callbacks
):
    project = _project(task_kinds=["edit"])
    with django_capture_on_commit_callbacks(execute=False):
        job = drafting_job_create(
            project=project, kind=DraftingJob.Kind.ANSWERS, count=2, temperature=0.8
        )

    job = drafting_job_run(job=job)

    job.refresh_from_db()
    assert job.status == DraftingJob.Status.DONE and job.drafted == 2, job.message
    drafted = Completion.objects.filter(prompt__project=project)
    assert drafted.count() == 4  # n = 2 for each of 2 prompts
    assert set(drafted.values_list("drafted_by", flat=True)) == {
        live_server_settings.BASE_MODEL_NAME
    }
    annotator = _member(project)
    assignment = task_next(annotator=annotator, project=project)
    assert assignment is not None and assignment.kind == "edit"
    (shown,) = assignment.completion_ids
    source = Completion.objects.get(pk=shown)
    demonstration = demonstration_submit(
        token=assignment.token, annotator=annotator, output=source.text + " Fixed.",
        time_spent_ms=1,
    )  # fmt: skip
    assert demonstration.drafted_by == live_server_settings.BASE_MODEL_NAME
    assert demonstration.edit_distance == len(" Fixed.")
    assert demonstration.source_completion_id == shown


# --- provenance in exports -----------------------------------------------------------------


def test_the_export_carries_provenance_and_human_only_drops_drafted_rows(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"
    project = _project(task_kinds=["edit"])
    annotator = _member(project)
    written, edited_prompt = Prompt.objects.filter(project=project).order_by("pk")[:2]
    Demonstration.objects.create(
        prompt=written, output="Rain taps the roof.", origin="answered", author=annotator
    )
    for text in ("Sleep early.", "Do not sleep."):
        CompletionFactory(prompt=edited_prompt, text=text)
    assignment = task_next(annotator=annotator, project=project)
    assert assignment.prompt == edited_prompt
    demonstration_submit(
        token=assignment.token, annotator=annotator, output="Sleep early, and rest well.",
        time_spent_ms=1,
    )  # fmt: skip
    (draft,) = _drafts(project, 1)
    draft = draft_review(draft=draft, reviewer=annotator, decision="accept")
    Demonstration.objects.create(
        prompt=draft.prompt, output="Red, blue.", origin="answered", author=annotator
    )

    export = exported(project, "alpaca", split=(1.0, 0.0, 0.0), held_out=False)

    rows = {row["output"]: row for row in rows_of(export, "train")}
    assert set(rows) == {"Rain taps the roof.", "Sleep early, and rest well.", "Red, blue."}
    assert rows["Rain taps the roof."]["prompt_provenance"] == "human"
    assert rows["Rain taps the roof."]["output_provenance"] == "human"
    assert rows["Sleep early, and rest well."]["output_provenance"] == "edited"
    assert rows["Sleep early, and rest well."]["drafted_by"] == live_version(project).served_name
    assert rows["Red, blue."]["prompt_provenance"] == "drafted"
    provenance = export.manifest["provenance"]
    assert provenance["prompts"] == {"human": 2, "drafted": 1}
    assert provenance["outputs"] == {"human": 2, "edited": 1}

    human = exported(
        project, "alpaca", split=(1.0, 0.0, 0.0), held_out=False, options={"human_only": True}
    )

    assert [row["output"] for row in rows_of(human, "train")] == ["Rain taps the roof."]
    provenance = human.manifest["provenance"]
    assert provenance["prompts"] == {"human": 1} and provenance["outputs"] == {"human": 1}
    assert provenance["prompts_dropped_drafted"] == 1 and provenance["rows_dropped_drafted"] == 2
    # The edit's preference (edited > the model's answer) says who wrote its prompt too.
    pairs = rows_of(exported(project, "preference", split=(1.0, 0.0, 0.0), held_out=False))
    assert [(p["prompt_provenance"], p["sources"]) for p in pairs] == [
        ("human", [f"demonstration:{edited_prompt.demonstrations.get().pk}"])
    ]


def test_an_admin_starts_a_drafting_job_from_the_project_and_sees_its_progress(
    client, django_capture_on_commit_callbacks
):
    project = _project()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    changelist = reverse("admin:labeling_project_changelist")
    form = client.post(changelist, {"action": "draft_with_model", "_selected_action": project.pk})
    assert "creative_writing" in form.content.decode()  # the project's categories to pick

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist,
            {"action": "draft_with_model", "_selected_action": project.pk, "apply": "1",
             "kind": "instructions", "count": 5, "categories": ["open_qa"], "temperature": 0.7},
            follow=True,
        )  # fmt: skip

    job = DraftingJob.objects.get()
    assert (job.count, job.categories, job.temperature) == (5, ["open_qa"], 0.7)
    assert DBTaskResult.objects.filter(task_path__endswith="drafting_job_task").count() == 1
    page = response.content.decode()
    assert f"Queued drafting job #{job.pk}" in page and "0 / 5" in page and "Pending" in page


def test_with_the_served_model_down_the_job_waits_without_sending(
    settings, django_capture_on_commit_callbacks
):
    settings.VLLM_URLS = ["http://127.0.0.1:1"]
    model_server_record_failure(url="http://127.0.0.1:1", error="ConnectError: refused")
    project = _project()
    with django_capture_on_commit_callbacks(execute=False):
        job = drafting_job_create(project=project, count=2)
        job = drafting_job_run(job=job)

    job.refresh_from_db()
    assert job.status == DraftingJob.Status.WAITING and job.requests == 0
    assert "the model server is down" in job.message


def test_a_bad_post_shows_the_draft_again_with_the_problem_never_a_server_error(client):
    project = _project()
    (draft,) = _drafts(project, 1)
    client.force_login(_member(project))
    url = reverse("labeling:drafts", args=[project.slug])

    missing_reason = client.post(url, {"draft": draft.pk, "decision": "reject"})
    nonsense = client.post(url, {"draft": "abc", "decision": "maybe"})

    assert missing_reason.status_code == 200 and "Choose why it is rejected" in (
        missing_reason.content.decode()
    )
    assert nonsense.status_code == 200 and draft.instruction in nonsense.content.decode()
    draft.refresh_from_db()
    assert draft.status == DraftPrompt.Status.PENDING


def test_a_teachers_drafted_answers_go_to_edit_tasks_only():
    """Answers a separate drafting model wrote are stored under the live version, but ranked
    or compared they would pass for the served model's own: only edit tasks show them."""
    project = ProjectFactory(task_kinds=["rank"], completions_per_prompt=2)
    prompt = prompt_create(project=project, instruction="Name a calm colour.")
    for text in ("Blue.", "Sage green."):
        CompletionFactory(prompt=prompt, text=text, drafted_by="teacher-7b")
    annotator = _member(project)
    assert task_next(annotator=annotator, project=project) is None  # nothing to rank

    project.task_kinds = ["edit"]
    project.save(update_fields=["task_kinds"])
    edit = task_next(annotator=annotator, project=project)
    assert edit is not None and edit.kind == "edit"

    # The served model's own drafts (the default drafter) are its answers like any other.
    other = ProjectFactory(task_kinds=["rank"], completions_per_prompt=2)
    own = prompt_create(project=other, instruction="Name a warm colour.")
    served = live_version(other).served_name
    for text in ("Red.", "Amber."):
        CompletionFactory(prompt=own, text=text, drafted_by=served)
    assert task_next(annotator=_member(other), project=other).kind == "rank"
