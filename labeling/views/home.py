from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from labeling.selectors.projects import projects_for


@login_required
def home(request):
    return render(request, "labeling/home.html", {"projects": projects_for(user=request.user)})
