"""An annotator's own work: their demonstrations with the review they got, their speed, how
often they agree with others and their accuracy on gold items. Shows nothing of other
annotators' work (agreement is one figure over it)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeling.access import project_for
from labeling.selectors.quality import demonstrations_of
from labeling.selectors.scorecards import scorecard_of

MY_WORK_LIMIT = 200


@login_required
@require_GET
def my_work(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(user=request.user, slug=slug)
    scorecard = scorecard_of(project=project, annotator=request.user)
    context = {
        "project": project,
        "demonstrations": demonstrations_of(project=project, author=request.user)[:MY_WORK_LIMIT],
        "scorecard": scorecard,
        "gold": scorecard.gold,
    }
    return render(request, "labeling/my_work.html", context)
