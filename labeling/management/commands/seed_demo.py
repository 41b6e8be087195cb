from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from labeling.services.demo import DemoSeedReport, demo_seed


class Command(BaseCommand):
    help = (
        "Create the demo project (English and Korean prompts) and five demo accounts. "
        "Safe to run again: it only adds what is missing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--judgements",
            type=int,
            default=0,
            metavar="N",
            help="Also add N synthetic judgements by the demo annotators over canned "
            "completions (no model server needed), to try exports and training.",
        )

    def handle(self, *args, **options) -> None:
        if options["judgements"] < 0:
            raise CommandError("--judgements takes a number of judgements, 0 or more.")
        report = demo_seed(judgements=options["judgements"])
        self.stdout.write(self.style.SUCCESS(report.summary()))
        self._write_accounts(report)

    def _write_accounts(self, report: DemoSeedReport) -> None:
        # Passwords are shown only on development machines; they also sit in a 0600 file.
        if not settings.DEBUG:
            names = ", ".join(account.username for account in report.accounts)
            self.stdout.write(
                f"Demo accounts exist: {names}. Passwords are not shown with DEBUG off; "
                "set one with: python manage.py changepassword <username>"
            )
            return
        self.stdout.write(f"Demo accounts (passwords kept in {report.credentials_path}):")
        for account in report.accounts:
            password = account.password or "(changed since; not shown)"
            self.stdout.write(
                f"  {account.username:<14} {account.role.label:<14} password: {password}"
            )
