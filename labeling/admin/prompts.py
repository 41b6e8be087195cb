"""Prompts: added, corrected and imported from a file through the services, as the write
task, the API and `manage.py import_prompts` do; scoped to the admin's own projects."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from labeling.admin.scoping import AdministeredProjectForm, ProjectScopedAdmin
from labeling.api.serializers.imports import encodable
from labeling.imports.formats import Format, ImportFileError
from labeling.models import Prompt
from labeling.services.gold import gold_verdict_check, prompt_gold_set
from labeling.services.prompt_import import PromptImportRejected, prompts_import_upload
from labeling.services.prompts import prompt_create, prompt_text_check, prompt_update

ADMIN_SOURCE = "admin"  # the `source` of a prompt added by hand in the admin


class PromptAddForm(forms.ModelForm):
    """A new prompt, written by `prompt_create` (its dedupe key made from its text)."""

    class Meta:
        model = Prompt
        fields = ["project", "instruction", "input", "category"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("project") is not None and cleaned.get("instruction"):
            prompt_text_check(
                project=cleaned["project"],
                instruction=cleaned["instruction"],
                input=cleaned.get("input", ""),
            )
        return cleaned

    def save(self, commit=True):
        data = self.cleaned_data
        self.instance = prompt_create(
            project=data["project"],
            instruction=data["instruction"],
            input=data["input"],
            category=data["category"],
            source=ADMIN_SOURCE,
        )
        self.save_m2m = lambda: None  # a prompt has no many-to-many fields
        return self.instance


class PromptChangeForm(forms.ModelForm):
    """A correction by `prompt_update` (the text only while nothing answers it), and the
    gold verdict by `prompt_gold_set`."""

    class Meta:
        model = Prompt
        fields = ["instruction", "input", "category", "gold_verdict"]

    def clean(self):
        cleaned = super().clean()
        gold_verdict_check(prompt=self.instance, verdict=cleaned.get("gold_verdict"))
        if cleaned.get("instruction"):
            prompt_text_check(
                project=self.instance.project,
                instruction=cleaned["instruction"],
                input=cleaned.get("input", ""),
                prompt=self.instance,
            )
        return cleaned

    def save(self, commit=True):
        data = self.cleaned_data
        prompt = prompt_update(
            prompt=self.instance,
            instruction=data["instruction"],
            input=data["input"],
            category=data["category"],
        )
        if "gold_verdict" in self.changed_data:
            prompt = prompt_gold_set(prompt=prompt, verdict=data["gold_verdict"])
        self.instance = prompt
        self.save_m2m = lambda: None
        return prompt


class PromptImportForm(AdministeredProjectForm):
    file = forms.FileField(label=_("File"), help_text=_("UTF-8: JSON, JSON Lines, CSV or Parquet."))
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[("", _("Detect from the content")), *Format.choices],
        required=False,
    )
    skip_invalid = forms.BooleanField(
        required=False,
        label=_("Skip invalid rows"),
        help_text=_(
            "Import the valid rows and list the invalid ones. Unticked: a file with an "
            "invalid row imports nothing."
        ),
    )


@admin.register(Prompt)
class PromptAdmin(ProjectScopedAdmin):
    list_display = [
        "short_instruction",
        "turns",
        "project",
        "category",
        "language",
        "source",
        "created_at",
    ]
    list_filter = ["project", "category", "language", "source"]
    search_fields = ["instruction", "input"]
    list_select_related = ["project"]
    show_full_result_count = False

    @admin.display(description=_("Instruction"))
    def short_instruction(self, prompt):
        return prompt.instruction[:100]

    @admin.display(description=_("Turns"))
    def turns(self, prompt):
        """User turns of its conversation: 1 for a single prompt."""
        return prompt.turns

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = PromptAddForm if obj is None else PromptChangeForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["project", "history", "language", "source", "dedupe_key", "created_at"]

    def save_model(self, request, obj, form, change):
        pass  # the form's save wrote it, through the services

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="labeling_prompt_import"), *super().get_urls()]

    def import_view(self, request):
        """The page of "Import prompts…": the CLI's all-or-nothing import of an uploaded
        file; a file it rejects (or whose skipped rows it lists) shows its errors here."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = PromptImportForm(
            request.POST if posted else None, request.FILES if posted else None, user=request.user
        )
        outcome = None
        if posted and form.is_valid():
            outcome = self._import(request, form)
            if outcome is None:
                return HttpResponseRedirect(reverse("admin:labeling_prompt_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import prompts"),
            "opts": self.model._meta,
            "form": form,
            "outcome": outcome,
        }
        return TemplateResponse(request, "admin/labeling/prompt/import.html", context)

    def _import(self, request, form) -> dict | None:
        """The report's lines to show, or None when all went in (a message says so)."""
        data = form.cleaned_data
        try:
            report = prompts_import_upload(
                project=data["project"],
                upload=data["file"],
                format=data["format"] or None,
                skip_invalid=data["skip_invalid"],
            )
        except PromptImportRejected as exc:
            lines = exc.report.error_lines()
            hint = _("Fix them, or tick “Skip invalid rows” to import the valid rows.")
            return _outcome(exc.message, lines, hint=hint, rejected=True)
        except ImportFileError as exc:
            form.add_error("file", encodable(str(exc)))
            return {}
        except ValidationError as exc:  # the file is too large
            form.add_error(None, exc)
            return {}
        self.message_user(request, f"{data['project']}: {report.summary()}", messages.SUCCESS)
        if report.invalid:
            return _outcome(report.summary(), report.error_lines(), hint="", rejected=False)
        return None


def _outcome(summary: str, lines: list[str], *, hint: str, rejected: bool) -> dict:
    """Texts for the page; a bad byte of the file is quoted escaped (see `encodable`)."""
    return {
        "summary": encodable(str(summary)),
        "lines": [encodable(line) for line in lines],
        "hint": hint,
        "rejected": rejected,
    }
