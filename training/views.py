"""The training run's live progress fragment (htmx polls it) and its cancel button."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from labeling.access import administered_only
from training.models import TrainingRun
from training.selectors.runs import run_progress
from training.services.runs import training_run_cancel


def _run_for(request, pk: int) -> TrainingRun:
    """A run of a project the caller administers; 404 for any other."""
    runs = TrainingRun.objects.select_related("project", "base_version", "result_version")
    return get_object_or_404(administered_only(runs, user=request.user), pk=pk)


def _change_page(run: TrainingRun) -> str:
    return reverse("admin:training_trainingrun_change", args=[run.pk])


@staff_member_required
def run_progress_fragment(request, pk: int):
    """The progress panel alone for htmx; a plain request gets the whole admin page."""
    run = _run_for(request, pk)
    if not request.htmx:
        return redirect(_change_page(run))
    return render(request, "training/run_progress.html", {"progress": run_progress(run)})


@staff_member_required
@require_POST
def run_cancel(request, pk: int):
    run = _run_for(request, pk)
    if not run.is_active:
        raise Http404("This run has already finished.")
    run = training_run_cancel(run=run)
    if run.status == TrainingRun.Status.CANCELLED:
        messages.success(request, "The run was cancelled before it started.")
    else:
        messages.info(request, "Cancelling: the run stops at its next step; nothing is published.")
    return redirect(_change_page(run))
