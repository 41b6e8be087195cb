from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from labeling.models.project import Project

MAX_TITLE_CHARS = 200
MAX_SOURCE_CHARS = 255


class Document(models.Model):
    """One domain document (an uploaded .txt or .md file, or one line of a .jsonl file),
    cleaned, for continued pre-training; the `documents` export writes one row per document.

    Written only by labeling.services.documents. The text is stored cleaned, so `sha256`
    (of that text) finds an exact duplicate of a document already in the project.
    """

    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(
        verbose_name=_("title"),
        max_length=MAX_TITLE_CHARS,
        help_text=_("A Markdown file's first heading, a JSON line's title, else the file name."),
    )
    text = models.TextField(
        verbose_name=_("text"), help_text=_("The cleaned text (Markdown kept as it was written).")
    )
    sha256 = models.CharField(
        verbose_name=_("SHA-256"),
        max_length=64,
        editable=False,
        help_text=_("SHA-256 of the cleaned text."),
    )
    chars = models.PositiveIntegerField(
        verbose_name=_("chars"), editable=False, help_text=_("Characters of the text.")
    )
    source_file = models.CharField(
        verbose_name=_("source file"),
        max_length=MAX_SOURCE_CHARS,
        help_text=_("The name of the uploaded file."),
    )
    source_line = models.PositiveIntegerField(
        verbose_name=_("source line"),
        null=True,
        blank=True,
        help_text=_("The line of a JSON Lines file; empty for a whole file."),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="documents_uploaded",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["project", "sha256"], name="document_unique_in_project")
        ]
        indexes = [models.Index(fields=["project", "id"], name="document_project_id_idx")]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.title
