from django.conf import settings
from django.core.management.base import BaseCommand

from labeling.services.demo import DemoSeedReport, demo_seed


class Command(BaseCommand):
    help = (
        "Create the demo project (English and Korean prompts) and five demo accounts. "
        "Safe to run again: it only adds what is missing."
    )

    def handle(self, *args, **options) -> None:
        report = demo_seed()
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
