"""python manage.py train --project SLUG --method M [--export ID | --data DIR] [--config FILE]
[--base-version N] [--reward-version N] [--publish manual|always|if_better] [--wait]"""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project
from training.engine.schema import EXPORT_FORMATS_FOR_METHOD
from training.models import TrainingRun
from training.services.runs import training_run_create, training_run_execute


class Command(BaseCommand):
    help = "Start a training run: queued for the worker, or run here with --wait."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument(
            "--method",
            required=True,
            choices=TrainingRun.Method.values,
            help="what to train; the export formats each takes: "
            + "; ".join(f"{m}: {', '.join(f)}" for m, f in EXPORT_FORMATS_FOR_METHOD.items()),
        )
        parser.add_argument("--export", type=int, help="DatasetExport id to train on")
        parser.add_argument("--data", help="snapshot directory (instead of --export)")
        parser.add_argument("--config", help="JSON file of preset overrides")
        parser.add_argument("--base-version", type=int, help="version number (default: live)")
        parser.add_argument(
            "--reward-version",
            type=int,
            help="rlhf only: version number of the reward model (default: train one first)",
        )
        parser.add_argument(
            "--publish",
            choices=TrainingRun.Publish.values,
            default=TrainingRun.Publish.IF_BETTER,
            help="when it succeeds: keep a candidate (manual), make it live (always), or make "
            "it live only if it beats its parent on the held-out rows (if_better, the default)",
        )
        parser.add_argument("--wait", action="store_true", help="train in this process")

    def handle(self, *args, **options):
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"No project with slug {options['project']!r}.")
        base = None
        if options["base_version"] is not None:
            base = project.model_versions.filter(number=options["base_version"]).first()
            if base is None:
                raise CommandError(f"{project.slug} has no version {options['base_version']}.")
        reward = None
        if options["reward_version"] is not None:
            reward = project.model_versions.filter(number=options["reward_version"]).first()
            if reward is None:
                raise CommandError(f"{project.slug} has no version {options['reward_version']}.")
        try:
            run = training_run_create(
                project=project,
                method=options["method"],
                export=self._export(project, options["export"]),
                snapshot_dir=options["data"],
                base_version=base,
                reward_version=reward,
                overrides=self._overrides(options["config"]),
                publish=options["publish"],
                enqueue=not options["wait"],
            )
        except ValidationError as exc:  # the refusal the admin form and the API show too
            raise CommandError("; ".join(exc.messages)) from None
        if not options["wait"]:
            self.stdout.write(f"Queued training run {run.pk} ({run.method} on {project.slug}).")
            return
        run = training_run_execute(run=run, echo=self.stdout.write)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} {run.status}: {run.error}")
        self.stdout.write(f"Run {run.pk} succeeded: {run.gate.get('outcome', run.result_version)}")

    def _export(self, project, export_id):
        if export_id is None:
            return None
        from django.apps import apps

        try:
            model = apps.get_model("labeling", "DatasetExport")
        except LookupError:
            raise CommandError("Dataset exports are not available; use --data DIR.") from None
        export = model.objects.filter(project=project, pk=export_id).first()
        if export is None:
            raise CommandError(f"{project.slug} has no export {export_id}.")
        return export

    def _overrides(self, path):
        if not path:
            return {}
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        if not isinstance(data, dict):
            raise CommandError(f"{path} must hold a JSON object.")
        data.pop("method", None)
        return data
