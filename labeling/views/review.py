"""The reviewer's page: one pending demonstration at a time, accept, reject with a reason, or
correct it. Plain forms (post, redirect, get), so it works without JavaScript."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from labeling.access import REVIEWER_ROLES, project_for
from labeling.models import Demonstration
from labeling.selectors.review import demonstrations_pending_review
from labeling.services.review import Decision, demonstration_review


class ReviewForm(forms.Form):
    demonstration = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=[(d.value, d.value) for d in Decision])
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    corrected_output = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 10})
    )


@login_required
def review(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(user=request.user, slug=slug, roles=REVIEWER_ROLES)
    pending = demonstrations_pending_review(project=project, reviewer=request.user)
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        demonstration = get_object_or_404(pending, pk=form.cleaned_data["demonstration"])
        try:
            demonstration_review(
                demonstration=demonstration,
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
                corrected_output=form.cleaned_data["corrected_output"] or None,
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(request, _("Review saved."))
            return redirect("labeling:review", slug=project.slug)
    current: Demonstration | None
    if form.is_bound and not form.is_valid() and form.cleaned_data.get("demonstration"):
        current = pending.filter(pk=form.cleaned_data["demonstration"]).first()
    else:
        current = pending.first()
        form = (
            form
            if form.is_bound
            else ReviewForm(
                initial={"demonstration": current.pk, "corrected_output": current.output}
                if current
                else None
            )
        )
    context = {"project": project, "current": current, "form": form, "left": pending.count()}
    return render(request, "labeling/review.html", context)
