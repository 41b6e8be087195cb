"""Import prompts (and reference outputs) from a file into a project, streaming.

One pass over the file inside one transaction: rows are validated as they are read and written
in batches with `bulk_create`. Duplicates are found per batch with one query on the dedupe keys;
because earlier batches are already in the (uncommitted) table, that one query also catches
repeats within the file, so no set of every key seen has to be kept in memory. In the default
all-or-nothing mode the first invalid row stops the writing, the rest of the file is still read
to list its errors, and the transaction is rolled back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.refusals import Refusal, RefusalCode
from labeling.imports.formats import Format, RowError, format_detect, records_read
from labeling.imports.validation import ImportRow, row_validate
from labeling.models import Demonstration, Project, Prompt
from labeling.models.prompt import MAX_SHORT_CHARS
from labeling.services.prompts import prompt_dedupe_key

BATCH_SIZE = 1000
MAX_LISTED_ERRORS = 20


@dataclass
class ImportReport:
    file_name: str
    format: Format
    imported: int = 0
    demonstrations: int = 0
    duplicates_existing: int = 0  # already in the project before this import
    duplicates_in_file: int = 0  # repeats of an earlier row of the same file
    invalid: int = 0  # rows
    error_count: int = 0  # problems (a row can have several)
    errors: list[RowError] = field(default_factory=list)  # the first MAX_LISTED_ERRORS

    @property
    def duplicates(self) -> int:
        return self.duplicates_existing + self.duplicates_in_file

    def add_errors(self, errors: list[RowError]) -> None:
        self.invalid += 1
        self.error_count += len(errors)
        self.errors.extend(errors[: MAX_LISTED_ERRORS - len(self.errors)])

    def error_lines(self) -> list[str]:
        """The listed errors, then how many more there were, for a person to read."""
        lines = [str(error) for error in self.errors]
        if self.error_count > len(self.errors):
            lines.append(
                _("... and %(count)s more") % {"count": self.error_count - len(self.errors)}
            )
        return lines

    def summary(self) -> str:
        prompts = ngettext("%(count)s prompt", "%(count)s prompts", self.imported)
        demonstrations = ngettext(
            "%(count)s reference demonstration",
            "%(count)s reference demonstrations",
            self.demonstrations,
        )
        duplicates = ngettext("%(count)s duplicate", "%(count)s duplicates", self.duplicates)
        message = _(
            "Imported %(prompts)s (%(demonstrations)s); %(duplicates)s skipped; "
            "%(invalid)s invalid."
        )
        return message % {
            "prompts": prompts % {"count": self.imported},
            "demonstrations": demonstrations % {"count": self.demonstrations},
            "duplicates": duplicates % {"count": self.duplicates},
            "invalid": self.invalid,
        }


class PromptImportRejected(Refusal):
    """An all-or-nothing import met invalid rows, so nothing was written.

    `message` is the summary line (the API's `detail`); str() adds the rows' errors, as the
    command line and the import job show them. Both are in the language active when raised.
    """

    default_code = RefusalCode.IMPORT_INVALID_ROWS
    http_status = 400  # the file is at fault, not the project's state

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        rows = ngettext("%(count)s invalid row", "%(count)s invalid rows", report.invalid)
        summary = _("Nothing imported: %(rows)s in %(file)s.") % {
            "rows": rows % {"count": report.invalid},
            "file": report.file_name,
        }
        self.text = "\n".join([summary, *(f"  {line}" for line in report.error_lines())])
        super().__init__(summary)

    def __str__(self) -> str:
        return self.text

    def details(self) -> dict:
        return {"invalid_rows": self.report.invalid, "errors": self.report.error_lines()}


def prompts_import(
    *, project: Project, path: Path | str, format: str | None = None, skip_invalid: bool = False
) -> ImportReport:
    """Import every valid row of `path` into `project`; see the module docstring for how.

    Raises PromptImportRejected (nothing written) when a row is invalid and not
    `skip_invalid`, and ImportFileError when the file as a whole cannot be read.
    """
    path = Path(path)
    file_format = Format(format) if format else format_detect(path)
    report = ImportReport(file_name=path.name, format=file_format)
    rows = _valid_rows(path, file_format, report)
    with transaction.atomic():
        last_id_before = Prompt.objects.filter(project=project).aggregate(m=Max("id"))["m"] or 0
        for batch in _batches(rows, BATCH_SIZE):
            if report.invalid and not skip_invalid:
                continue  # read on only to list the remaining errors
            _batch_write(project=project, rows=batch, last_id_before=last_id_before, report=report)
        if report.invalid and not skip_invalid:
            raise PromptImportRejected(report)  # leaving atomic() rolls back
    return report


def prompts_import_upload(
    *, project: Project, upload: UploadedFile, format: str | None = None, skip_invalid: bool = False
) -> ImportReport:
    """An uploaded file (the API, the admin's "Import prompts…") imported as `prompts_import`
    imports a path: kept under its own name, which the report names, and removed after.

    Raises ValidationError on `file` for a file over PROMPT_IMPORT_MAX_BYTES.
    """
    if upload.size > settings.PROMPT_IMPORT_MAX_BYTES:
        limit = settings.PROMPT_IMPORT_MAX_BYTES // (1024 * 1024)
        raise ValidationError(
            {"file": [_("The file is larger than %(limit)s MiB.") % {"limit": limit}]}
        )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / (Path(upload.name or "").name or "upload")
        with path.open("wb") as file:
            for chunk in upload.chunks():
                file.write(chunk)
        return prompts_import(project=project, path=path, format=format, skip_invalid=skip_invalid)


def _valid_rows(path: Path, file_format: Format, report: ImportReport) -> Iterator[ImportRow]:
    default_source = path.name[:MAX_SHORT_CHARS]
    for item in records_read(path, file_format):
        if isinstance(item, RowError):
            report.add_errors([item])
            continue
        location, record = item
        row = row_validate(location, record, format=file_format, default_source=default_source)
        if isinstance(row, list):
            report.add_errors(row)
        else:
            yield row


def _batches(rows: Iterable[ImportRow], size: int) -> Iterator[list[ImportRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _batch_write(
    *, project: Project, rows: list[ImportRow], last_id_before: int, report: ImportReport
) -> None:
    """Insert the rows that are new to the project, each with its reference demonstration."""
    keyed = [
        (prompt_dedupe_key(instruction=row.instruction, input=row.input, history=row.history), row)
        for row in rows
    ]
    known = dict(
        Prompt.objects.filter(
            project=project, dedupe_key__in={key for key, _ in keyed}
        ).values_list("dedupe_key", "id")
    )
    fresh: dict[str, ImportRow] = {}
    for key, row in keyed:
        if key in known and known[key] <= last_id_before:
            report.duplicates_existing += 1
        elif key in known or key in fresh:
            report.duplicates_in_file += 1
        else:
            fresh[key] = row
    prompts = Prompt.objects.bulk_create(_prompt(project, key, row) for key, row in fresh.items())
    _ensure_ids(project, prompts)
    demonstrations = Demonstration.objects.bulk_create(
        Demonstration(
            prompt=prompt,
            output=row.output,
            rejected_output=row.rejected_output,
            origin=Demonstration.Origin.IMPORTED,
            review_status=Demonstration.ReviewStatus.PENDING,
        )
        for prompt, row in zip(prompts, fresh.values(), strict=True)
        if row.output
    )
    report.imported += len(prompts)
    report.demonstrations += len(demonstrations)


def _prompt(project: Project, key: str, row: ImportRow) -> Prompt:
    return Prompt(
        project=project,
        instruction=row.instruction,
        input=row.input,
        category=row.category,
        language=row.language,
        source=row.source,
        metadata=row.metadata,
        history=row.history,
        dedupe_key=key,
    )


def _ensure_ids(project: Project, prompts: list[Prompt]) -> None:
    """Backends that cannot return ids from a bulk insert get them by dedupe key."""
    if not prompts or prompts[0].pk is not None:
        return
    ids = dict(
        Prompt.objects.filter(
            project=project, dedupe_key__in=[p.dedupe_key for p in prompts]
        ).values_list("dedupe_key", "id")
    )
    for prompt in prompts:
        prompt.pk = ids[prompt.dedupe_key]
