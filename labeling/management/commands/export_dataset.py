from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from labeling.exports.split import parse_split_ratios
from labeling.models import DatasetExport, Project
from labeling.services.exports import (
    dataset_export_copy,
    dataset_export_create,
    dataset_export_run,
)


class Command(BaseCommand):
    help = (
        "Export a project's data as an immutable snapshot (manifest.json + train/validation/"
        "test files) under var/exports, and copy it to --out. Runs in this process."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="Project slug.")
        parser.add_argument("--format", required=True, choices=DatasetExport.Format.values)
        parser.add_argument("--out", required=True, type=Path, help="New or empty directory.")
        parser.add_argument(
            "--split", default=None, help="train,validation,test (default 0.9,0.05,0.05)"
        )
        parser.add_argument(
            "--no-held-out",
            action="store_true",
            help="A first tiny round: every prompt in train (split 1,0,0); runs on the export "
            "are not evaluated.",
        )
        parser.add_argument("--parquet", action="store_true", help="Parquet instead of JSONL.")
        parser.add_argument(
            "--rule",
            default=DatasetExport.Rule.ALL,
            choices=DatasetExport.Rule.values,
            help="How several annotators' judgements of a prompt become preferences.",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of the split by prompt.")
        parser.add_argument(
            "--require-accepted",
            action="store_true",
            help="Only demonstrations a reviewer accepted.",
        )
        parser.add_argument(
            "--kto-from-rankings",
            action="store_true",
            help="KTO: also the top (desirable) and bottom (undesirable) of rankings.",
        )
        parser.add_argument(
            "--plain", action="store_true", help="Preference/KTO: plain text, not messages."
        )
        parser.add_argument("--min-agreement", type=float, default=None)
        for score in ("helpful", "harmless"):
            parser.add_argument(
                f"--min-chosen-{score}",
                type=int,
                default=None,
                help=f"Preference: drop pairs whose chosen answer's mean {score} score (1-5) "
                "is lower; an answer nobody scored is kept.",
            )

    def handle(self, *args, **options) -> None:
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with slug {options['project']!r}.")
        out = options["out"]
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out} is not an empty directory; choose a new one.")
        try:
            split = parse_split_ratios(options["split"]) if options["split"] else None
            export = dataset_export_create(
                project=project,
                format=options["format"],
                rule=options["rule"],
                split=split,
                held_out=not options["no_held_out"],
                seed=options["seed"],
                parquet=options["parquet"],
                filters={"min_agreement": options["min_agreement"]},
                options=self._export_options(options),
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(_message(exc)) from None
        export = dataset_export_run(export=export)
        if export.status != DatasetExport.Status.DONE:
            raise CommandError(f"Export #{export.pk} failed: {export.error}")
        dataset_export_copy(export=export, destination=out)
        self.stdout.write(self.style.SUCCESS(summary(export)))
        for warning in export.manifest.get("warnings", []):
            self.stdout.write(
                self.style.WARNING(f"Warning ({warning['code']}): {warning['message']}")
            )
        self.stdout.write(f"Snapshot: {export.path}")
        self.stdout.write(f"Copied to: {out.resolve()}")

    @staticmethod
    def _export_options(options: dict) -> dict:
        chosen = {
            "require_accepted": options["require_accepted"],
            "kto_from_rankings": options["kto_from_rankings"],
            "min_chosen_helpful": options["min_chosen_helpful"],
            "min_chosen_harmless": options["min_chosen_harmless"],
        }
        if options["plain"]:
            chosen["conversational"] = False
        return chosen


def summary(export: DatasetExport) -> str:
    manifest = export.manifest
    duplicates = manifest.get("duplicates", {})
    scrubbed = sum(manifest.get("personal_data", {}).values())
    return (
        f"Export #{export.pk} ({export.format}, rule {export.rule}): {export.rows_total} rows "
        f"(train {export.rows_train}, validation {export.rows_validation}, "
        f"test {export.rows_test}) from {manifest.get('prompts', {}).get('exported', 0)} "
        f"prompts; duplicates dropped: {duplicates.get('prompts_exact', 0)} exact and "
        f"{duplicates.get('prompts_near', 0)} near prompts, {duplicates.get('rows_exact', 0)} "
        f"rows merged; personal data replaced: {scrubbed}; "
        f"content sha256 {export.content_hash[:12]}…"
    )


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in exc.message_dict.items())
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)
