"""Drafting from the admin: "Draft instructions or answers…" on a project starts a drafting
job in the worker; the jobs' list shows how far each got (and why one waits); drafted
instructions are listed read-only (annotators decide them on their own page)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from labeling.admin.scoping import ProjectScopedAdmin
from labeling.models import DraftingJob, DraftPrompt, Prompt
from labeling.services.drafting import MAX_COUNT, drafting_job_create


class DraftingJobForm(forms.Form):
    """The intermediate page of "Draft instructions or answers…"."""

    kind = forms.ChoiceField(
        label=_("Draft"),
        choices=DraftingJob.Kind.choices,
        initial=DraftingJob.Kind.INSTRUCTIONS,
        help_text=_(
            "Instructions: new prompts, proposed from the project's own as examples, that "
            "annotators accept, edit or reject. Answers: for prompts without a demonstration, "
            "answers that annotators fix in edit tasks."
        ),
    )
    count = forms.IntegerField(label=_("How many"), min_value=1, max_value=MAX_COUNT, initial=20)
    categories = forms.MultipleChoiceField(
        label=_("Categories"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Instructions only; none chosen: every category of the project."),
    )
    temperature = forms.FloatField(
        label=_("Temperature"), min_value=0.05, max_value=2.0, initial=0.9
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        categories = (
            Prompt.objects.filter(project=project)
            .exclude(category="")
            .values_list("category", flat=True)
            .distinct()
            .order_by("category")
        )
        self.fields["categories"].choices = [(c, c) for c in categories]


@admin.action(description=_("Draft instructions or answers…"))
def draft_with_model(modeladmin, request, queryset):
    """Intermediate form → drafting_job_create (enqueued for the worker), one project."""
    if not request.user.has_perm("labeling.add_draftingjob"):
        modeladmin.message_user(request, _("You may not start drafting jobs."), messages.ERROR)
        return None
    if queryset.count() != 1:
        modeladmin.message_user(request, _("Choose exactly one project."), messages.WARNING)
        return None
    project = queryset.get()
    form = DraftingJobForm(request.POST if "apply" in request.POST else None, project=project)
    if form.is_valid():
        try:
            job = drafting_job_create(project=project, created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            queued = _("Queued drafting job #%(job)s of %(project)s.")
            modeladmin.message_user(
                request, queued % {"job": job.pk, "project": project}, messages.SUCCESS
            )
            return HttpResponseRedirect(reverse("admin:labeling_draftingjob_change", args=[job.pk]))
    return TemplateResponse(
        request,
        "admin/labeling/draft_with_model.html",
        {
            **modeladmin.admin_site.each_context(request),
            "project": project,
            "form": form,
            "title": _("Draft with the model: %(project)s") % {"project": project},
        },
    )


@admin.register(DraftingJob)
class DraftingJobAdmin(ProjectScopedAdmin):
    """Read-only: a job is started from its project and reports its own progress."""

    list_display = ["__str__", "kind", "status", "progress", "dropped", "attempts", "message"]
    list_filter = ["status", "kind", "project"]
    list_select_related = ["project"]
    fields = [
        "project",
        "kind",
        "status",
        "progress",
        "dropped",
        "requests",
        "attempts",
        "message",
        "model_name",
        "categories",
        "temperature",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # jobs start from a project: "Draft instructions or answers…"

    def has_change_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        waiting = (DraftingJob.Status.WAITING, DraftingJob.Status.FAILED)
        if job is not None and request.method == "GET" and job.status in waiting:
            self.message_user(request, job.message, messages.WARNING)  # at the top, where seen
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("Progress"))
    def progress(self, job):
        return f"{job.drafted} / {job.count}"


@admin.register(DraftPrompt)
class DraftPromptAdmin(ProjectScopedAdmin):
    """Read-only: annotators decide drafts on their own page; this is the record."""

    list_display = ["__str__", "category", "language", "status", "reject_reason", "reviewer"]
    list_filter = ["status", "reject_reason", "project"]
    search_fields = ["instruction"]
    list_select_related = ["project", "reviewer"]
    readonly_fields = [
        "project",
        "job",
        "instruction",
        "input",
        "category",
        "language",
        "drafted_by",
        "drafted_version",
        "status",
        "reject_reason",
        "reviewer",
        "reviewed_at",
        "edit_distance",
        "prompt",
        "created_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False
