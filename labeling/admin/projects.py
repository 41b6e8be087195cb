"""Projects: their settings and members, the quality dashboard, and what starts from a project
(a dataset export, a training run)."""

from dataclasses import dataclass, field

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from labeling.access import projects_administered_by
from labeling.admin.drafts import draft_with_model
from labeling.admin.exports import export_dataset
from labeling.admin.training_actions import start_training_run
from labeling.models import Membership, Project, TaskKind
from labeling.selectors.documents import document_totals
from labeling.selectors.quality import dashboard_for
from labeling.services.projects import base_version_ensure


@dataclass(frozen=True)
class KindMix:
    """The project's task kinds and their weights, as the admin's kind table edits them."""

    kinds: list[str]
    weights: dict[str, int] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)  # weights as entered, to show back


class KindMixWidget(forms.Widget):
    """One row per task kind: a checkbox to enable it and its weight beside it."""

    template_name = "admin/labeling/project/kind_mix_widget.html"

    def value_from_datadict(self, data, files, name):
        typed = {kind: data.get(f"{name}_weight_{kind}", "").strip() for kind in TaskKind.values}
        kinds = data.getlist(name) if hasattr(data, "getlist") else list(data.get(name) or [])
        return KindMix(kinds=kinds, typed=typed)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if not isinstance(value, KindMix):
            value = KindMix(kinds=list(value or []))
        rows = []
        for kind in TaskKind:
            weight = value.typed.get(kind.value, value.weights.get(kind.value, 1))
            rows.append(
                {
                    "value": kind.value,
                    "label": kind.label,
                    "enabled": kind.value in value.kinds,
                    "weight": weight,
                }
            )
        context["widget"]["rows"] = rows
        return context


class KindMixField(forms.Field):
    """Cleans the kind table into a KindMix: known kinds, whole weights of at least 0, one
    enabled kind at least, and not every enabled kind at 0."""

    widget = KindMixWidget

    def clean(self, value: KindMix) -> KindMix:
        kinds = [kind for kind in TaskKind.values if kind in value.kinds]
        if not kinds:
            raise forms.ValidationError(_("Choose at least one task kind."), code="no_kind")
        weights = {}
        for kind in TaskKind:
            typed = value.typed.get(kind.value, "")
            try:
                weights[kind.value] = int(typed) if typed else 1
            except ValueError:
                raise forms.ValidationError(
                    _("The weight of “%(kind)s” must be a whole number."),
                    code="weight_not_whole",
                    params={"kind": kind.label},
                ) from None
            if weights[kind.value] < 0:
                raise forms.ValidationError(
                    _("The weight of “%(kind)s” cannot be negative."),
                    code="weight_negative",
                    params={"kind": kind.label},
                )
        if all(weights[kind] == 0 for kind in kinds):
            raise forms.ValidationError(
                _("All the chosen kinds weigh 0: give at least one a weight above 0."),
                code="weights_all_zero",
            )
        return KindMix(kinds=kinds, weights=weights)


class ProjectForm(forms.ModelForm):
    """The project's form with the kind table in place of the raw JSON of task_kinds and
    task_kind_weights."""

    task_kinds = KindMixField(
        label=_("Task kinds"),
        help_text=_(
            "The kinds annotators get, and each one's weight: the next task's kind is drawn "
            "in these proportions while the kinds have work. A chosen kind of weight 0 is "
            "handed out only when no other kind has work; equal weights take turns."
        ),
    )

    class Meta:
        model = Project
        fields = ["task_kinds"]  # the admin adds its fieldsets' fields; never the weights

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            project = self.instance
            self.initial["task_kinds"] = KindMix(
                kinds=list(project.task_kinds or []), weights=dict(project.task_kind_weights or {})
            )

    def clean_task_kinds(self) -> list[str]:
        mix = self.cleaned_data["task_kinds"]
        # Not a field of the form: set here so the model's full_clean checks both together.
        self.instance.task_kind_weights = mix.weights
        return mix.kinds


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectForm
    list_display = ["name", "slug", "prompt_count", "completions_per_prompt", "overlap"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "guidelines"]}),
        (_("Tasks"), {"fields": ["task_kinds", "overlap", "prompt_selection"]}),
        (
            _("Sampling"),
            {"fields": ["completions_per_prompt", "temperature", "top_p", "max_tokens"]},
        ),
        (_("Quality"), {"fields": ["gold_share", "compare_share", "quality_dashboard_link"]}),
        (_("Exports"), {"fields": ["text_template", "documents_link"]}),
        (_("Drafting"), {"fields": ["drafting_url", "drafting_model"]}),
    ]
    readonly_fields = ["quality_dashboard_link", "documents_link"]
    actions = [export_dataset, start_training_run, draft_with_model]

    @admin.display(description=_("Quality dashboard"))
    def quality_dashboard_link(self, project):
        if project.pk is None:
            return "-"
        url = reverse("admin:labeling_project_quality", args=[project.pk])
        text = _("Agreement, gold, live version vs the one it replaced, leaderboard, activity")
        return format_html('<a href="{}">{}</a>', url, text)

    @admin.display(description=_("Documents (for CPT)"))
    def documents_link(self, project):
        if project.pk is None:
            return "-"
        totals = document_totals(project=project)
        listed = reverse("admin:labeling_document_changelist") + f"?project__id__exact={project.pk}"
        upload = reverse("admin:labeling_document_upload") + f"?project={project.pk}"
        counts = _("%(documents)s documents, %(chars)s characters") % {
            "documents": totals["documents"],
            "chars": f"{totals['chars']:,}",
        }
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            listed,
            counts,
            upload,
            _("Upload documents…"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.quality_dashboard_view)
        dashboard = path("<path:object_id>/quality/", view, name="labeling_project_quality")
        return [dashboard, *super().get_urls()]

    def quality_dashboard_view(self, request, object_id):
        project = self.get_object(request, object_id)
        if project is None:
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "title": _("Quality: %(project)s") % {"project": project.name},
            "opts": self.model._meta,
            "original": project,
            "dashboard": dashboard_for(project),
        }
        return TemplateResponse(request, "admin/quality/dashboard.html", context)

    def get_queryset(self, request):
        projects = projects_administered_by(user=request.user)
        return projects.annotate(_prompt_count=Count("prompts"))

    @admin.display(description=_("Prompts"), ordering="_prompt_count")
    def prompt_count(self, project):
        return project._prompt_count

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        base_version_ensure(project=obj)
