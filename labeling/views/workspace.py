"""The annotator's workspace: one page per project showing the current task.

One view serves the whole page and, for htmx requests, only the task fragment. A submission
answered over htmx comes back as the next task's fragment (the server claims it in the same
request, so it appears at once); a plain form POST redirects back to the page (PRG).

Preloading (settings.WORKSPACE_PRELOAD): page and fragment also carry the task after the
current one, claimed for the annotator (labeling.services.queue.task_preload) and rendered
in an inert <template>; static/js/workspace.js shows it the moment the annotator submits and
reconciles with the answer to the submission, which carries the task after that one.
"""

from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from labeling.access import project_for
from labeling.forms.workspace import SkipForm, TaskForm
from labeling.kinds import KINDS, Records
from labeling.markdown import markdown_to_safe_html
from labeling.models import Assignment, Project
from labeling.selectors.queue import (
    Progress,
    TaskView,
    annotator_progress,
    assignment_current,
    task_view,
)
from labeling.services.queue import (
    SubmissionRefused,
    assignment_extend,
    continuation_submit,
    demonstration_submit,
    judgement_submit,
    task_next,
    task_preload,
    task_skip,
)
from serving.selectors import model_servers_available

PAGE = "labeling/workspace/page.html"
FRAGMENT = "labeling/workspace/task.html"
UNSAVED_FIELDS = ("instruction", "input", "output", "reason")


def workspace_login_required(view):
    """login_required, but an htmx request whose session ran out sends the whole page to the
    login form (a plain redirect would swap the login page into the task area)."""
    plain = login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            page = reverse("labeling:workspace", kwargs={"slug": slug})
            return HttpResponseClientRedirect(redirect_to_login(page).url)
        return plain(request, slug)

    return wrapper


@dataclass(frozen=True)
class PreloadedTask:
    """The next task as the page holds it off-screen: what task.html renders for it."""

    task: TaskView
    form: TaskForm
    rows: list
    progress: Progress  # the counts as they are; the answer to the submission updates them
    server_down: bool


@workspace_login_required
@never_cache  # Back must never show a page of tasks already done or shown (a cached copy)
@require_http_methods(["GET", "POST"])
def workspace(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(user=request.user, slug=slug)  # 404 unless a member
    if request.method == "POST":
        return _submit(request, project)
    assignment = task_next(annotator=request.user, project=project)
    return _render(request, project, assignment)


def _submit(request: HttpRequest, project: Project) -> HttpResponse:
    kind = KINDS.get(request.POST.get("kind", ""))
    if kind is None:
        return _refused(request, project, None, [_("This form is out of date; here is your task.")])
    form = kind.form(request.POST, completion_ids=_completion_ids(request))
    if not form.is_valid():
        return _refused(request, project, form, _form_errors(form))
    token = form.cleaned_data["token"]
    submit = {
        Records.DEMONSTRATION: demonstration_submit,
        Records.JUDGEMENT: judgement_submit,
        Records.PROMPT: continuation_submit,
    }[kind.records]
    try:
        submit(
            token=token,
            annotator=request.user,
            time_spent_ms=_time_spent(request, project, form),
            **form.service_kwargs(),
        )
    except SubmissionRefused as refusal:
        return _refused(request, project, form, [refusal.message])
    except ValidationError as error:
        return _refused(request, project, form, error.messages)
    return _next(request, project)


@workspace_login_required
@require_POST
def workspace_skip(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(user=request.user, slug=slug)
    form = SkipForm(request.POST)
    if not form.is_valid():
        return _refused(request, project, None, _form_errors(form), skip_open=True)
    try:
        task_skip(
            token=form.cleaned_data["token"],
            annotator=request.user,
            reason=form.cleaned_data["reason"],
        )
    except SubmissionRefused as refusal:
        return _refused(request, project, None, [refusal.message])
    return _next(request, project)


@workspace_login_required
@require_POST
def workspace_extend(request: HttpRequest, slug: str) -> JsonResponse:
    """Hold the task longer: the page posts this (throttled) while the annotator works on it.
    Answers the new lock as JSON, or the refusal's message and code."""
    project_for(user=request.user, slug=slug)
    try:
        assignment = assignment_extend(token=request.POST.get("token", ""), annotator=request.user)
    except SubmissionRefused as refusal:
        body = {"detail": str(refusal.message), "code": str(refusal.code)}
        return JsonResponse(body, status=refusal.http_status)
    return JsonResponse(
        {"expires_at": assignment.expires_at.isoformat(), "now": timezone.now().isoformat()}
    )


def _next(request: HttpRequest, project: Project) -> HttpResponse:
    if not request.htmx:
        return redirect("labeling:workspace", slug=project.slug)
    return _render(request, project, task_next(annotator=request.user, project=project))


def _refused(
    request: HttpRequest,
    project: Project,
    form: TaskForm | None,
    errors: list[str],
    *,
    skip_open: bool = False,
) -> HttpResponse:
    """The task again with the errors and what the annotator entered. When the refused task
    is no longer theirs, the next task comes instead and the text they typed stays on
    screen beside it, so nothing written is lost."""
    assignment = task_next(annotator=request.user, project=project)
    unsaved = []
    if form is not None and (assignment is None or str(assignment.token) != form.data.get("token")):
        unsaved = [form.data[name] for name in UNSAVED_FIELDS if form.data.get(name, "").strip()]
        form = None
    return _render(
        request,
        project,
        assignment,
        form=form,
        errors=errors,
        unsaved=unsaved,
        skip_open=skip_open,
        status=200 if request.htmx else 422,
    )


def _render(
    request: HttpRequest,
    project: Project,
    assignment: Assignment | None,
    *,
    form: TaskForm | None = None,
    errors: list[str] = (),
    unsaved: list[str] = (),
    skip_open: bool = False,
    status: int = 200,
) -> HttpResponse:
    task = task_view(assignment=assignment) if assignment is not None else None
    if task is not None and form is None:
        form = task.kind_spec.form.for_task(task)
    progress = annotator_progress(annotator=request.user, project=project)
    context = {
        "project": project,
        "task": task,
        "form": form,
        "rows": form.rows(task.completions) if task is not None else [],
        "errors": errors,
        "unsaved": unsaved,
        "skip_open": skip_open,
        "progress": progress,
        "server_down": _server_down_note(task),
        "preload": _preloaded(request, project, progress) if task is not None else None,
        "lock_seconds": settings.ASSIGNMENT_LOCK_SECONDS,
    }
    if not request.htmx:
        context["guidelines_html"] = markdown_to_safe_html(project.guidelines)
    return render(request, FRAGMENT if request.htmx else PAGE, context, status=status)


def _preloaded(request: HttpRequest, project: Project, progress: Progress) -> PreloadedTask | None:
    """The task after the current one, claimed for the annotator, when preloading is on."""
    if not settings.WORKSPACE_PRELOAD:
        return None
    assignment = task_preload(annotator=request.user, project=project)
    if assignment is None:
        return None
    task = task_view(assignment=assignment)
    form = task.kind_spec.form.for_task(task)
    return PreloadedTask(
        task=task,
        form=form,
        rows=form.rows(task.completions),
        progress=progress,
        server_down=_server_down_note(task),
    )


def _server_down_note(task) -> bool:
    """Say the model server is down when that is why the annotator is writing instead.

    Only the server state is read here (one indexed query): the generation buffer counts of
    labeling.selectors.generation.generation_status would cost a scan per task shown.
    """
    if task is not None and task.kind_spec.shows_completions:
        return False
    return not model_servers_available()


def _completion_ids(request: HttpRequest) -> list[int]:
    return [int(value) for value in request.POST.getlist("completion") if value.isdigit()]


def _time_spent(request: HttpRequest, project: Project, form: TaskForm) -> int:
    """Measured by the page; without JavaScript, the age of the assignment."""
    measured = form.cleaned_data.get("time_spent_ms")
    if measured is not None:
        return measured
    current = assignment_current(annotator=request.user, project=project)
    if current is None or current.token != form.cleaned_data["token"]:
        return 0
    return max(0, int((timezone.now() - current.created_at).total_seconds() * 1000))


def _form_errors(form) -> list[str]:
    return [str(message) for messages in form.errors.values() for message in messages]
