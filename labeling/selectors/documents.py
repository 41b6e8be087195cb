"""Reads of domain documents: what an upload must skip, what the admin and the API list, and
the `documents` export's rows a chunk at a time (plain values, so memory stays flat)."""

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Count, QuerySet, Sum

from labeling.models import Document, Project
from labeling.selectors.exports import _filtered, rows_chunked

EXPORT_FIELDS = ("pk", "title", "text", "source_file", "source_line")


def document_hashes_known(*, project: Project, hashes: set[str]) -> set[str]:
    """Those of `hashes` that a document of the project already has."""
    if not hashes:
        return set()
    known = Document.objects.filter(project=project, sha256__in=hashes)
    return set(known.values_list("sha256", flat=True))


def documents_of(*, project: Project) -> QuerySet[Document]:
    return Document.objects.filter(project=project).select_related("uploaded_by")


def document_totals(*, project: Project) -> dict[str, int]:
    """{"documents": how many, "chars": their characters} of the project."""
    totals = Document.objects.filter(project=project).aggregate(
        documents=Count("pk"), chars=Sum("chars")
    )
    return {"documents": totals["documents"], "chars": totals["chars"] or 0}


def export_document_chunks(
    *, project: Project, as_of: datetime, filters: dict, chunk_size: int
) -> Iterator[list[dict]]:
    """The project's documents uploaded by `as_of`, in id order, `chunk_size` at a time.

    Of an export's filters, the dates (inclusive days, the upload's) and `annotators` (who
    uploaded) apply; the others are about judgements and demonstrations."""
    documents = Document.objects.filter(project=project, created_at__lte=as_of)
    documents = _filtered(documents, filters, person="uploaded_by_id")  # the exports' own rule
    rows = documents.order_by("pk").values(*EXPORT_FIELDS).iterator(chunk_size=chunk_size)
    yield from rows_chunked(rows, chunk_size)
