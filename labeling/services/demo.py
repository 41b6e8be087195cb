"""The demo project: a project, its prompts and five accounts to try every role with.

Each step brings one part to its wanted state and leaves what is already there alone, so
`seed_demo` can run on every start. Further steps (synthetic judgements) slot into
`demo_seed` the same way.
"""

import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from labeling.demo.guidelines import DEMO_GUIDELINES
from labeling.demo.prompts import DEMO_PROMPTS, DemoPrompt
from labeling.models import Demonstration, Project, Prompt, Role, TaskKind
from labeling.services.projects import base_version_ensure, membership_grant, project_create
from labeling.services.prompts import prompt_create, prompt_dedupe_key

DEMO_SLUG = "demo"
DEMO_NAME = "Demo: instructions in English and Korean"
DEMO_SOURCE = "demo"
CREDENTIALS_FILE = "demo_credentials.json"

# username -> role in the demo project. None of them is a superuser.
DEMO_ACCOUNTS: dict[str, Role] = {
    "demo-admin": Role.ADMIN,
    "demo-reviewer": Role.REVIEWER,
    "annotator1": Role.ANNOTATOR,
    "annotator2": Role.ANNOTATOR,
    "annotator3": Role.ANNOTATOR,
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    password: str | None  # None: the account existed before and its password is unknown
    created: bool


@dataclass
class DemoSeedReport:
    project: Project
    project_created: bool
    prompts_total: int
    prompts_created: int
    demonstrations_created: int
    credentials_path: Path
    accounts: list[DemoAccount] = field(default_factory=list)

    @property
    def accounts_created(self) -> int:
        return sum(account.created for account in self.accounts)

    def summary(self) -> str:
        return (
            f"Demo project '{self.project.slug}': {self.prompts_total} prompts "
            f"({self.prompts_created} new), {len(self.accounts)} accounts "
            f"({self.accounts_created} new)"
        )


def demo_seed() -> DemoSeedReport:
    """Create or complete the demo project, its prompts and the demo accounts."""
    credentials_path = Path(settings.VAR_DIR) / CREDENTIALS_FILE
    # The file is written before the database so that a password is never set that the
    # file does not hold; a failed run leaves at most unused passwords, reused next time.
    passwords = demo_passwords_ensure(path=credentials_path)
    with transaction.atomic():
        project, project_created = demo_project_ensure()
        prompts_created, demonstrations_created = demo_prompts_ensure(project=project)
        accounts = demo_accounts_ensure(project=project, passwords=passwords)
    return DemoSeedReport(
        project=project,
        project_created=project_created,
        prompts_total=Prompt.objects.filter(project=project).count(),
        prompts_created=prompts_created,
        demonstrations_created=demonstrations_created,
        credentials_path=credentials_path,
        accounts=accounts,
    )


def demo_passwords_ensure(*, path: Path) -> dict[str, str]:
    """Passwords of the demo accounts: generated once, then read back from `path` (mode 0600)."""
    stored = json.loads(path.read_text()) if path.exists() else {}
    passwords = {
        username: stored.get(username) or secrets.token_urlsafe(12) for username in DEMO_ACCOUNTS
    }
    if passwords != {username: stored.get(username) for username in DEMO_ACCOUNTS}:
        _write_private(path, json.dumps({**stored, **passwords}, indent=2) + "\n")
    return passwords


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as file:  # mkstemp creates the file with mode 0600
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def demo_project_ensure() -> tuple[Project, bool]:
    """The demo project; an existing one is kept as an admin may have tuned it."""
    project = Project.objects.filter(slug=DEMO_SLUG).first()
    if project is not None:
        base_version_ensure(project=project)
        return project, False
    project = project_create(
        name=DEMO_NAME,
        slug=DEMO_SLUG,
        guidelines=DEMO_GUIDELINES,
        task_kinds=list(TaskKind.values),
        completions_per_prompt=4,
        overlap=2,
    )
    return project, True


def demo_prompts_ensure(*, project: Project) -> tuple[int, int]:
    """Add the demo prompts the project lacks; returns (prompts created, references created)."""
    keyed = {
        prompt_dedupe_key(instruction=item.instruction, input=item.input): item
        for item in DEMO_PROMPTS
    }
    existing = {
        prompt.dedupe_key: prompt
        for prompt in Prompt.objects.filter(project=project, dedupe_key__in=keyed)
    }
    prompts_created = demonstrations_created = 0
    for key, item in keyed.items():
        prompt = existing.get(key)
        if prompt is None:
            prompt = prompt_create(
                project=project,
                instruction=item.instruction,
                input=item.input,
                category=item.category,
                language=item.language,
                source=DEMO_SOURCE,
            )
            prompts_created += 1
        if item.reference:
            demonstrations_created += _reference_ensure(prompt=prompt, item=item)
    return prompts_created, demonstrations_created


def _reference_ensure(*, prompt: Prompt, item: DemoPrompt) -> int:
    """Import the hand-written reference answer once; it needs no review, we wrote it."""
    if Demonstration.objects.filter(
        prompt=prompt, origin=Demonstration.Origin.IMPORTED, output=item.reference
    ).exists():
        return 0
    demonstration = Demonstration(
        prompt=prompt,
        output=item.reference,
        origin=Demonstration.Origin.IMPORTED,
        review_status=Demonstration.ReviewStatus.ACCEPTED,
    )
    demonstration.full_clean()
    demonstration.save()
    return 1


def demo_accounts_ensure(*, project: Project, passwords: dict[str, str]) -> list[DemoAccount]:
    """Create the missing accounts and grant every one its role; existing passwords stay."""
    user_model = get_user_model()
    accounts = []
    for username, role in DEMO_ACCOUNTS.items():
        user, created = user_model.objects.get_or_create(username=username)
        if created or not user.has_usable_password():
            user.set_password(passwords[username])
            user.save(update_fields=["password"])
            known = True
        else:  # someone may have run changepassword since: show the password only if it works
            known = user.check_password(passwords[username])
        if not project.memberships.filter(user=user, role=role).exists():
            membership_grant(project=project, user=user, role=role)
        accounts.append(
            DemoAccount(
                username=username,
                role=role,
                password=passwords[username] if known else None,
                created=created,
            )
        )
    return accounts
