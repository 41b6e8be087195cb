"""The review of drafted instructions: one pending draft at a time, accept (A), edit then
accept (E, Ctrl+Enter) or reject with a reason (R, then 1-4). One view serves the page and,
for htmx, the card fragment; plain forms (post, redirect, get) work without JavaScript."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from labeling.access import project_for
from labeling.models import DraftPrompt
from labeling.selectors.drafts import drafts_pending
from labeling.services.drafting import REVIEW_KEYS, DraftDecision, draft_review


class DraftReviewForm(forms.Form):
    draft = forms.IntegerField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=[(d, d) for d in DraftDecision.CHOICES])
    reason = forms.ChoiceField(required=False, choices=DraftPrompt.RejectReason.choices)
    instruction = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    input = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


@login_required
def drafts_review(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(user=request.user, slug=slug)
    pending = drafts_pending(project=project)
    form = DraftReviewForm(request.POST or None)
    current = None
    if request.method == "POST" and form.is_valid():
        draft = DraftPrompt.objects.filter(project=project, pk=form.cleaned_data["draft"]).first()
        try:
            if draft is None:
                raise ValidationError(_("This draft is not in the project."))
            draft_review(
                draft=draft,
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                instruction=form.cleaned_data["instruction"],
                input=form.cleaned_data["input"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            if "draft" in getattr(error, "message_dict", {}):  # decided meanwhile: go on
                messages.info(request, " ".join(error.message_dict["draft"]))
            else:
                current = draft
                for problem in error.messages:
                    form.add_error(None, problem)
        else:
            messages.success(request, _("Saved."))
            if not request.htmx:
                return redirect("labeling:drafts", slug=project.slug)
        if current is None:
            form = None
    elif request.method == "POST":
        current = pending.filter(pk=form.cleaned_data.get("draft") or 0).first()
    if current is None:
        current = pending.first()
        form = None
    if form is None and current is not None:
        form = DraftReviewForm(
            initial={
                "draft": current.pk,
                "instruction": current.instruction,
                "input": current.input,
            }
        )
    context = {
        "project": project,
        "current": current,
        "form": form,
        "left": pending.count(),
        "reasons": [(key, reason.value, reason.label) for key, reason in REVIEW_KEYS.items()],
    }
    template = "labeling/drafts/card.html" if request.htmx else "labeling/drafts/review.html"
    return render(request, template, context)
