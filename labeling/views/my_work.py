"""An annotator's own work: their demonstrations with the review they got, and their accuracy
on gold items. Shows nothing of other annotators."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeling.access import project_for
from labeling.selectors.quality import demonstrations_of, gold_accuracy_for

MY_WORK_LIMIT = 200


@login_required
@require_GET
def my_work(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(user=request.user, slug=slug)
    gold = gold_accuracy_for(project, annotator=request.user)
    context = {
        "project": project,
        "demonstrations": demonstrations_of(project=project, author=request.user)[:MY_WORK_LIMIT],
        "gold": gold[0] if gold else None,
    }
    return render(request, "labeling/my_work.html", context)
