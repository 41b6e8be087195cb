"""Domain documents: "Upload documents…" (several .txt, .md or .jsonl files at once, through
the service the API uses), the list of a project's documents, and removing wrong ones; in the
admin's own projects. A document is never edited: upload the corrected file instead."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from labeling.admin.scoping import AdministeredProjectForm, ProjectScopedAdmin
from labeling.imports.documents import SUFFIXES
from labeling.models import Document
from labeling.services.documents import documents_delete, documents_upload


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern for `multiple`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(SUFFIXES)}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class DocumentUploadForm(AdministeredProjectForm):
    files = MultipleFileField(
        label=_("Files"),
        help_text=_(
            "UTF-8 plain text (.txt), Markdown (.md: one document a file) or JSON Lines "
            '(.jsonl: one {"text": ...} document a line). Several at once.'
        ),
    )


@admin.register(Document)
class DocumentAdmin(ProjectScopedAdmin):
    list_display = ["title", "project", "source", "chars", "uploaded_by", "created_at"]
    list_filter = ["project"]
    search_fields = ["title", "text"]
    list_select_related = ["project", "uploaded_by"]
    show_full_result_count = False
    fields = ["project", "title", "source", "chars", "sha256", "uploaded_by", "created_at", "text"]
    readonly_fields = fields

    @admin.display(description=_("Source"), ordering="source_file")
    def source(self, document):
        if document.source_line is None:
            return document.source_file
        line = _("%(file)s line %(line)s")
        return line % {"file": document.source_file, "line": document.source_line}

    def has_change_permission(self, request, obj=None):
        return False  # the text is what was uploaded; upload a corrected file instead

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:labeling_document_upload"))

    def delete_queryset(self, request, queryset):
        documents_delete(documents=queryset)

    def delete_model(self, request, obj):
        documents_delete(documents=Document.objects.filter(pk=obj.pk))

    def get_urls(self):
        view = self.admin_site.admin_view(self.upload_view)
        return [path("upload/", view, name="labeling_document_upload"), *super().get_urls()]

    def upload_view(self, request):
        """The page of "Upload documents…": all or nothing; a bad file's problems are listed
        here, each naming the file (and the line), and nothing of the upload is stored."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = DocumentUploadForm(
            request.POST if posted else None,
            request.FILES if posted else None,
            user=request.user,
            initial={"project": request.GET["project"]} if "project" in request.GET else None,
        )
        if posted and form.is_valid():
            project = form.cleaned_data["project"]
            try:
                report = documents_upload(
                    project=project, files=form.cleaned_data["files"], uploaded_by=request.user
                )
            except ValidationError as exc:
                form.add_error(None, exc)  # keyed by "files": shown on that field
            else:
                self.message_user(request, f"{project}: {report.summary()}", messages.SUCCESS)
                url = reverse("admin:labeling_document_changelist")
                return HttpResponseRedirect(f"{url}?project__id__exact={project.pk}")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Upload documents"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/labeling/document/upload.html", context)
