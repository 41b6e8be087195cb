"""`manage.py import_prompts --project SLUG FILE`: a thin shell around `prompts_import`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.imports.formats import Format, ImportFileError
from labeling.models import Project
from labeling.services.prompt_import import PromptImportRejected, prompts_import


class Command(BaseCommand):
    help = (
        "Import prompts into a project from an Alpaca, Dolly or messages JSON/JSON Lines file, "
        "a CSV file or a Parquet file. Given outputs become reference demonstrations. "
        "All or nothing unless --skip-invalid."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="The file to import (UTF-8).")
        parser.add_argument("--project", required=True, metavar="SLUG", help="Project slug.")
        parser.add_argument(
            "--format",
            choices=Format.values,
            help="The file's format; detected from its fields when left out.",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid rows and list the invalid ones, instead of importing nothing.",
        )

    def handle(self, *args, file: Path, project: str, format: str | None, **options) -> None:
        try:
            target = Project.objects.get(slug=project)
        except Project.DoesNotExist:
            raise CommandError(f"No project with the slug {project!r}.") from None
        try:
            report = prompts_import(
                project=target, path=file, format=format, skip_invalid=options["skip_invalid"]
            )
        except PromptImportRejected as exc:
            hint = "Fix them, or pass --skip-invalid to import the valid rows and skip these."
            raise CommandError(f"{exc}\n{hint}") from None
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from None
        if report.invalid:
            self.stderr.write(f"Skipped invalid rows ({report.invalid}):")
            for line in report.error_lines():
                self.stderr.write(f"  {line}")
        self.stdout.write(report.summary())
