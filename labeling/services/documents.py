"""Domain documents for continued pre-training: uploaded (the admin's "Upload documents…",
the API), cleaned, deduplicated and stored; the `documents` export writes them out.

An upload is all or nothing: every file is read and cleaned first, and if any file is bad
(not .txt/.md/.jsonl, not UTF-8, empty after cleaning, a JSON line without a string "text")
nothing is stored and every problem is listed, each naming its file (and line). The good
upload is written in one transaction. A document whose cleaned text is already in the project
(or earlier in the same upload) is skipped and counted, by the SHA-256 of that text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from labeling.imports.documents import DocumentText, file_read
from labeling.models import Document, Project
from labeling.selectors.documents import document_hashes_known

# Over this many bytes in one upload the files are refused before they are read (the prompt
# import's limit, PROMPT_IMPORT_MAX_BYTES, 50 MiB unless set).
MAX_UPLOAD_BYTES = settings.PROMPT_IMPORT_MAX_BYTES
MAX_LISTED_ERRORS = 20
BATCH_SIZE = 500


@dataclass
class DocumentUploadReport:
    """What one upload did, for the admin's message and the API's answer."""

    files: int = 0
    stored: int = 0
    chars: int = 0
    duplicates_existing: int = 0  # already in the project before this upload
    duplicates_in_upload: int = 0  # repeats of an earlier document of the same upload
    empty: int = 0  # JSON lines with no text left after cleaning, dropped

    @property
    def duplicates(self) -> int:
        return self.duplicates_existing + self.duplicates_in_upload

    def summary(self) -> str:
        documents = ngettext("%(count)s document", "%(count)s documents", self.stored)
        files = ngettext("%(count)s file", "%(count)s files", self.files)
        duplicates = ngettext("%(count)s duplicate", "%(count)s duplicates", self.duplicates)
        counts = {
            "documents": documents % {"count": self.stored},
            "chars": f"{self.chars:,}",
            "files": files % {"count": self.files},
            "duplicates": duplicates % {"count": self.duplicates},
        }
        if not self.empty:
            message = _(
                "Stored %(documents)s (%(chars)s characters) from %(files)s; "
                "%(duplicates)s skipped."
            )
            return message % counts
        empty = ngettext("%(count)s empty line", "%(count)s empty lines", self.empty)
        message = _(
            "Stored %(documents)s (%(chars)s characters) from %(files)s; "
            "%(duplicates)s skipped; %(empty)s dropped."
        )
        return message % {**counts, "empty": empty % {"count": self.empty}}


def documents_upload(
    *,
    project: Project,
    files: Sequence[UploadedFile],
    uploaded_by: AbstractBaseUser | None = None,
) -> DocumentUploadReport:
    """Store the documents of `files` in `project`; see the module docstring.

    Raises ValidationError on `files` (nothing stored): no file, the upload too large, or
    the problems of its bad files, one message each.
    """
    if not files:
        raise ValidationError({"files": [_("Choose one or more .txt, .md or .jsonl files.")]})
    if sum(upload.size or 0 for upload in files) > MAX_UPLOAD_BYTES:
        limit = MAX_UPLOAD_BYTES // (1024 * 1024)
        message = _("The files are larger than %(limit)s MiB together.")
        raise ValidationError({"files": [message % {"limit": limit}]})
    report = DocumentUploadReport(files=len(files))
    documents, errors = _files_read(files, report)
    if errors:
        raise ValidationError({"files": _listed(errors)})
    return _documents_store(
        project=project, documents=documents, uploaded_by=uploaded_by, report=report
    )


def _files_read(
    files: Sequence[UploadedFile], report: DocumentUploadReport
) -> tuple[list[DocumentText], list[str]]:
    documents: list[DocumentText] = []
    errors: list[str] = []
    for upload in files:
        upload.seek(0)
        reading = file_read(upload.name or "", upload.read())
        documents += reading.documents
        errors += reading.errors
        report.empty += reading.empty
    return documents, errors


@transaction.atomic
def _documents_store(
    *,
    project: Project,
    documents: list[DocumentText],
    uploaded_by: AbstractBaseUser | None,
    report: DocumentUploadReport,
) -> DocumentUploadReport:
    """The documents new to the project, in one transaction; the project row is locked so
    that two uploads of the same text at once cannot both find it new."""
    Project.objects.select_for_update().filter(pk=project.pk).exists()
    known = document_hashes_known(project=project, hashes={d.sha256 for d in documents})
    fresh: dict[str, DocumentText] = {}
    for document in documents:
        digest = document.sha256
        if digest in known:
            report.duplicates_existing += 1
        elif digest in fresh:
            report.duplicates_in_upload += 1
        else:
            fresh[digest] = document
    Document.objects.bulk_create(
        (
            Document(
                project=project,
                title=document.title,
                text=document.text,
                sha256=digest,
                chars=len(document.text),
                source_file=document.source_file,
                source_line=document.source_line,
                uploaded_by=uploaded_by,
            )
            for digest, document in fresh.items()
        ),
        batch_size=BATCH_SIZE,
    )
    report.stored = len(fresh)
    report.chars = sum(len(document.text) for document in fresh.values())
    return report


def _listed(errors: list[str]) -> list[str]:
    """The first MAX_LISTED_ERRORS problems, then how many more there were."""
    listed = errors[:MAX_LISTED_ERRORS]
    if len(errors) > len(listed):
        listed.append(_("... and %(count)s more.") % {"count": len(errors) - len(listed)})
    return listed


@transaction.atomic
def documents_delete(*, documents: QuerySet[Document]) -> int:
    """Remove documents (a wrong upload); exports already written keep their copies."""
    deleted, _ = documents.delete()
    return deleted
