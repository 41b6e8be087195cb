"""Model output and annotators' text are untrusted: every page that shows them shows them
escaped, so a script or event-handler payload in any text field never reaches the browser as
markup."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from labeling.models import Demonstration, Judgement, Project, TaskKind
from labeling.services.projects import membership_grant
from labeling.services.queue import judgement_submit, task_next
from tests.factories import CompletionFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

SCRIPT = "<script>window.__x=1</script>"
HANDLER = "<img src=x onerror=alert(1)>"
PAYLOAD = f"{SCRIPT}{HANDLER}"


def assert_escaped(html: str, *, shown: bool = True) -> None:
    assert SCRIPT not in html and HANDLER not in html
    if shown:
        assert escape(SCRIPT) in html and escape(HANDLER) in html


def poisoned_project(kind: str, author) -> Project:
    project = ProjectFactory(
        name=f"{kind} {PAYLOAD}",
        slug=f"xss-{kind}",
        guidelines=f"Guidelines {PAYLOAD}",
        task_kinds=[kind],
        completions_per_prompt=2,
    )
    for n in range(2):
        prompt = PromptFactory(
            project=project, instruction=f"Do {PAYLOAD} {n}", input=f"Input {PAYLOAD}"
        )
        for _ in range(2):
            CompletionFactory(prompt=prompt, text=f"Answer {PAYLOAD}")
        Demonstration.objects.create(
            prompt=prompt,
            output=f"Demo {PAYLOAD}",
            origin=Demonstration.Origin.WRITTEN,
            author=author,
        )
    return project


@pytest.fixture
def annotator():
    return UserFactory(username=f"ann{PAYLOAD}", first_name=PAYLOAD)


@pytest.mark.parametrize("kind", [kind.value for kind in TaskKind])
def test_the_workspace_home_and_my_work_pages_escape_every_text(client, annotator, kind):
    project = poisoned_project(kind, annotator)
    membership_grant(project=project, user=annotator, role="annotator")
    client.force_login(annotator)
    workspace = client.get(reverse("labeling:workspace", kwargs={"slug": project.slug}))
    assert workspace.status_code == 200
    assert_escaped(workspace.content.decode())  # at least the project name and username
    home = client.get(reverse("labeling:home"))
    assert_escaped(home.content.decode())
    my_work = client.get(reverse("labeling:my_work", kwargs={"slug": project.slug}))
    assert my_work.status_code == 200
    assert_escaped(my_work.content.decode())


def test_a_shown_task_escapes_prompt_and_completions(client, annotator):
    project = poisoned_project(TaskKind.RANK, annotator)
    membership_grant(project=project, user=annotator, role="annotator")
    client.force_login(annotator)
    html = client.get(reverse("labeling:workspace", kwargs={"slug": project.slug})).content
    html = html.decode()
    assert_escaped(html)
    for shown in ("Do ", "Input ", "Answer "):
        assert shown + escape(SCRIPT) in html


def test_the_admin_escapes_every_text(client, annotator):
    project = poisoned_project(TaskKind.RANK, annotator)
    membership_grant(project=project, user=annotator, role="annotator")
    task = task_next(annotator=annotator, project=project)
    ranking = [[c.pk] for c in task.prompt.completions.all()]
    judgement = judgement_submit(
        token=task.token, annotator=annotator, ranking=ranking, reason=PAYLOAD, time_spent_ms=9
    )
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    prompt = task.prompt
    objects = {
        "project": project,
        "prompt": prompt,
        "completion": prompt.completions.first(),
        "demonstration": prompt.demonstrations.first(),
        "judgement": Judgement.objects.get(pk=judgement.pk),
    }
    for model, obj in objects.items():
        changelist = client.get(reverse(f"admin:labeling_{model}_changelist"))
        assert changelist.status_code == 200, model
        assert_escaped(changelist.content.decode(), shown=model != "judgement")
        change = client.get(reverse(f"admin:labeling_{model}_change", args=[obj.pk]))
        assert change.status_code == 200, model
        assert_escaped(change.content.decode())
