"""Dataset exports: requested from a project ("Export dataset…"), read-only afterwards; a
failed one can be started again, a finished one trained on."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from labeling.admin.scoping import ProjectScopedAdmin
from labeling.admin.training_actions import train_on_export
from labeling.exports.split import parse_split_ratios
from labeling.models import DatasetExport, Demonstration, Project
from labeling.selectors.exports import conversational_by_default
from labeling.services.export_checks import DEFAULT_SPLIT
from labeling.services.exports import (
    DatasetExportRefused,
    dataset_export_again,
    dataset_export_create,
    dataset_export_enqueue,
    dataset_exports_fail_stale,
)


class DatasetExportForm(forms.Form):
    """The intermediate page of "Export dataset…": format, rule, split, seed, filters."""

    format = forms.ChoiceField(label=_("Format"), choices=DatasetExport.Format.choices)
    rule = forms.ChoiceField(
        label=_("Rule"),
        choices=DatasetExport.Rule.choices,
        initial=DatasetExport.Rule.ALL,
        help_text=_(
            "Several annotators per prompt: keep every preference, a majority vote per "
            "pair, or the order a Bradley-Terry fit gives."
        ),
    )
    split = forms.CharField(
        label=_("Split"), initial="0.9,0.05,0.05", help_text=_("train,validation,test")
    )
    no_held_out = forms.BooleanField(
        required=False,
        label=_("No held-out rows"),
        help_text=_(
            "A first tiny round: every prompt in train (split 1,0,0). Runs on it are not "
            "evaluated and cannot use the better-than-parent gate."
        ),
    )
    seed = forms.IntegerField(
        label=_("Seed"), initial=0, help_text=_("The same seed gives the same split.")
    )
    parquet = forms.BooleanField(
        label=_("Parquet"), required=False, help_text=_("Parquet files instead of JSONL.")
    )
    conversational = forms.BooleanField(
        label=_("Conversational"),
        required=False,
        help_text=_(
            "Preference/KTO: messages rather than plain text. Ticked when the served model "
            "has a chat template; a text-style model trains on plain text only."
        ),
    )
    require_accepted = forms.BooleanField(
        label=_("Require accepted"),
        required=False,
        help_text=_("Only demonstrations a reviewer accepted."),
    )
    human_only = forms.BooleanField(
        label=_("Human-only"),
        required=False,
        help_text=_(
            "Leave out rows a model drafted: drafted prompts (even accepted ones) and outputs "
            "edited from a model's answer."
        ),
    )
    kto_from_rankings = forms.BooleanField(
        label=_("KTO from rankings"),
        required=False,
        help_text=_("KTO: also the top and the bottom of rankings."),
    )
    min_chosen_helpful = forms.IntegerField(
        label=_("Min chosen helpful"),
        required=False,
        min_value=1,
        max_value=5,
        help_text=_(
            "Preference: drop pairs whose chosen answer was scored less helpful (mean "
            "1-5; an answer nobody scored is kept)."
        ),
    )
    min_chosen_harmless = forms.IntegerField(
        label=_("Min chosen harmless"),
        required=False,
        min_value=1,
        max_value=5,
        help_text=_("Preference: the same for the harmless score."),
    )
    date_from = forms.DateField(
        label=_("Date from"), required=False, help_text=_("Judgements/demonstrations from.")
    )
    date_to = forms.DateField(
        label=_("Date to"), required=False, help_text=_("… up to and including.")
    )
    annotators = forms.ModelMultipleChoiceField(
        label=_("Annotators"), queryset=None, required=False
    )
    model_versions = forms.TypedMultipleChoiceField(
        label=_("Model versions"), coerce=int, required=False
    )
    review_status = forms.MultipleChoiceField(
        label=_("Review status"),
        choices=Demonstration.ReviewStatus.choices,
        required=False,
        help_text=_("Empty: pending and accepted."),
    )
    min_agreement = forms.FloatField(
        label=_("Min agreement"),
        required=False,
        min_value=0,
        max_value=1,
        help_text=_("Drop prompts whose annotators agree less (share agreeing with the majority)."),
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["annotators"].queryset = project.members.order_by("username")
        self.fields["conversational"].initial = conversational_by_default()
        self.fields["model_versions"].choices = [
            (version.number, str(version)) for version in project.model_versions.all()
        ]

    def clean_split(self):
        try:
            return parse_split_ratios(self.cleaned_data["split"])
        except ValueError:  # the parser's English is the command line's
            raise forms.ValidationError(
                _("Three non-negative fractions that add up to 1.")
            ) from None

    def export_arguments(self) -> dict:
        data = self.cleaned_data
        held_out = not data["no_held_out"]
        # "No held-out rows" ticked over the prefilled split: the box decides. Any other split
        # with it is refused by the service, keyed by "split".
        split = None if not held_out and data["split"] == DEFAULT_SPLIT else data["split"]
        return {
            "format": data["format"],
            "rule": data["rule"],
            "split": split,
            "held_out": held_out,
            "seed": data["seed"],
            "parquet": data["parquet"],
            "filters": {
                "date_from": data["date_from"].isoformat() if data["date_from"] else None,
                "date_to": data["date_to"].isoformat() if data["date_to"] else None,
                "annotators": [user.pk for user in data["annotators"]],
                "model_versions": data["model_versions"],
                "review_status": data["review_status"],
                "min_agreement": data["min_agreement"],
            },
            "options": {
                "conversational": data["conversational"],
                "require_accepted": data["require_accepted"],
                "human_only": data["human_only"],
                "kto_from_rankings": data["kto_from_rankings"],
                "min_chosen_helpful": data["min_chosen_helpful"],
                "min_chosen_harmless": data["min_chosen_harmless"],
            },
        }


@admin.action(description=_("Export dataset…"))
def export_dataset(modeladmin, request, queryset):
    """Intermediate form → dataset_export_create + enqueue (one project at a time)."""
    if not request.user.has_perm("labeling.add_datasetexport"):
        modeladmin.message_user(request, _("You may not export datasets."), messages.ERROR)
        return None
    if queryset.count() != 1:
        modeladmin.message_user(request, _("Choose exactly one project."), messages.WARNING)
        return None
    project = queryset.get()
    form = DatasetExportForm(request.POST if "apply" in request.POST else None, project=project)
    if form.is_valid():
        try:
            export = dataset_export_create(
                project=project, created_by=request.user, **form.export_arguments()
            )
        except ValidationError as exc:
            for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            dataset_export_enqueue(export=export)
            queued = _("Queued export #%(export)s of %(project)s.")
            modeladmin.message_user(
                request, queued % {"export": export.pk, "project": project}, messages.SUCCESS
            )
            if not any(export.split[1:]):
                modeladmin.message_user(
                    request,
                    _(
                        "Export #%(export)s holds nothing out: runs on it are not evaluated and "
                        "cannot use the better-than-parent gate."
                    )
                    % {"export": export.pk},
                    messages.WARNING,
                )
            url = reverse("admin:labeling_datasetexport_change", args=[export.pk])
            return HttpResponseRedirect(url)
    return TemplateResponse(
        request,
        "admin/labeling/export_dataset.html",
        {
            **modeladmin.admin_site.each_context(request),
            "project": project,
            "form": form,
            "title": _("Export dataset of %(project)s") % {"project": project},
        },
    )


@admin.register(DatasetExport)
class DatasetExportAdmin(ProjectScopedAdmin):
    """Read-only: an export is an immutable snapshot, requested from its project's page."""

    list_display = [
        "__str__",
        "format",
        "rule",
        "status",
        "rows_total",
        "warning_codes",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "format", "project"]
    list_select_related = ["project", "created_by"]
    fields = [
        "project",
        "format",
        "rule",
        "status",
        "error",
        "warnings",
        "rows",
        "figures",
        "downloads",
        "content_hash",
        "code_version",
        "path",
        "filters",
        "options",
        "split_seed",
        "parquet",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields
    actions = ["export_again", train_on_export]

    def has_add_permission(self, request):
        return False  # exports start from a project: "Export dataset…"

    def changelist_view(self, request, extra_context=None):
        dataset_exports_fail_stale()  # a dead worker's export shows failed, not running
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dataset_exports_fail_stale()
        export = self.get_object(request, object_id)
        if export is not None and request.method == "GET":
            for warning in _warnings_of(export):  # at the top of the page, where it is seen
                self.message_user(request, warning["message"], messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Export again"))
    def export_again(self, request, queryset):
        """A new export with each failed export's settings, queued for the worker."""
        if not request.user.has_perm("labeling.add_datasetexport"):
            self.message_user(request, _("You may not export datasets."), messages.ERROR)
            return
        for export in queryset.select_related("project"):
            try:
                again = dataset_export_again(export=export, created_by=request.user)
            except DatasetExportRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
            except ValidationError as exc:  # its filters name something gone since
                reason = " ".join(exc.messages)
                failed = _("Export #%(export)s: %(reason)s") % {
                    "export": export.pk,
                    "reason": reason,
                }
                self.message_user(request, failed, messages.WARNING)
            else:
                queued = _("Queued export #%(export)s again as #%(again)s.")
                self.message_user(
                    request, queued % {"export": export.pk, "again": again.pk}, messages.SUCCESS
                )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # training runs refer to snapshots by their files

    @admin.display(description=_("Rows"))
    def rows_total(self, export):
        return export.rows_total

    @admin.display(description=_("Warnings"))
    def warning_codes(self, export):
        return ", ".join(warning["code"] for warning in _warnings_of(export)) or "-"

    @admin.display(description=_("Warnings"))
    def warnings(self, export):
        return (
            format_html_join(
                mark_safe("<br>"),
                "{} <code>{}</code>",
                ((warning["message"], warning["code"]) for warning in _warnings_of(export)),
            )
            or "-"
        )

    @admin.display(description=_("Rows per split"))
    def rows(self, export):
        return _("%(total)s (train %(train)s, validation %(validation)s, test %(test)s)") % {
            "total": export.rows_total,
            "train": export.rows_train,
            "validation": export.rows_validation,
            "test": export.rows_test,
        }

    @admin.display(description=_("Split and seed"))
    def split_seed(self, export):
        ratios = f"{export.split_train}/{export.split_validation}/{export.split_test}"
        return _("%(ratios)s, seed %(seed)s") % {"ratios": ratios, "seed": export.seed}

    @admin.display(description=_("Figures"))
    def figures(self, export):
        manifest = export.manifest or {}
        sections = ("prompts", "documents", "duplicates", "personal_data", "agreement", "sources")
        sections += ("flags", "dropped_for_flags", "dropped_for_scores")
        return (
            format_html_join(
                "",
                "<p><strong>{}</strong>: {}</p>",
                (
                    (section.replace("_", " ").capitalize(), _figures_line(manifest[section]))
                    for section in sections
                    if manifest.get(section)
                ),
            )
            or "-"
        )

    @admin.display(description=_("Files"))
    def downloads(self, export):
        if export.directory is None:
            return "-"
        names = ["manifest.json", *sorted((export.manifest or {}).get("files", {}))]
        files = (export.manifest or {}).get("files", {})
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> {}',
            (
                (
                    reverse("labeling:export_file", args=[export.pk, name]),
                    name,
                    _file_note(files.get(name)),
                )
                for name in names
            ),
        )


def _warnings_of(export: DatasetExport) -> list[dict]:
    """The manifest's warnings (labeling.exports.snapshot.split_warnings); none before done."""
    return (export.manifest or {}).get("warnings", [])


def _figures_line(values) -> str:
    if not isinstance(values, dict):
        return str(values)
    return ", ".join(
        f"{key.replace('_', ' ')} {value}" for key, value in values.items() if key != "measure"
    )


def _file_note(entry: dict | None) -> str:
    if not entry:
        return ""
    note = _("(%(rows)s rows, sha256 %(sha)s…)")
    return note % {"rows": entry["rows"], "sha": entry["sha256"][:16]}
