"""The demo project: a project, its prompts and five accounts to try every role with.

Each step brings one part to its wanted state and leaves what is already there alone, so
`seed_demo` can run on every start. On request (`seed_demo --judgements N`) a further step
adds synthetic judgements by the demo annotators over canned completions, so that exports and
training can be tried without a model server.
"""

import itertools
import json
import os
import random
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labeling.demo.completions import OFF_TOPIC, PARTIAL, VAGUE, canned_completions
from labeling.demo.guidelines import DEMO_GUIDELINES
from labeling.demo.prompts import DEMO_PROMPTS, DemoPrompt
from labeling.kinds import Shows, judgement_kinds, kind_of
from labeling.models import (
    Assignment,
    Completion,
    Demonstration,
    Judgement,
    Project,
    Prompt,
    QueueItem,
    Role,
    TaskKind,
)
from labeling.services.judgement_payloads import judgement_payload_clean
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
    judgements_requested: int = 0
    judgements_created: int = 0

    @property
    def accounts_created(self) -> int:
        return sum(account.created for account in self.accounts)

    def summary(self) -> str:
        summary = (
            f"Demo project '{self.project.slug}': {self.prompts_total} prompts "
            f"({self.prompts_created} new), {len(self.accounts)} accounts "
            f"({self.accounts_created} new)"
        )
        if self.judgements_requested:
            summary += f", {self.judgements_created} synthetic judgements added"
            if self.judgements_created < self.judgements_requested:
                summary += " (every demo task already has its overlap of judgements)"
        return summary


def demo_seed(*, judgements: int = 0) -> DemoSeedReport:
    """Create or complete the demo project, its prompts and the demo accounts; with
    `judgements`, add that many synthetic judgements (see demo_judgements_add)."""
    credentials_path = Path(settings.VAR_DIR) / CREDENTIALS_FILE
    # The file is written before the database so that a password is never set that the
    # file does not hold; a failed run leaves at most unused passwords, reused next time.
    passwords = demo_passwords_ensure(path=credentials_path)
    with transaction.atomic():
        project, project_created = demo_project_ensure()
        prompts_created, demonstrations_created = demo_prompts_ensure(project=project)
        accounts = demo_accounts_ensure(project=project, passwords=passwords)
        judgements_created = demo_judgements_add(project=project, count=judgements)
    return DemoSeedReport(
        project=project,
        project_created=project_created,
        prompts_total=Prompt.objects.filter(project=project).count(),
        prompts_created=prompts_created,
        demonstrations_created=demonstrations_created,
        credentials_path=credentials_path,
        accounts=accounts,
        judgements_requested=judgements,
        judgements_created=judgements_created,
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
    keyed = {prompt_dedupe_key(**item.dedupe_key_parts): item for item in DEMO_PROMPTS}
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
                history=list(item.history),
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


# --- synthetic judgements over canned completions -------------------------------------------

CANNED_REQUEST = "demo-canned"


def demo_completions_ensure(*, project: Project) -> dict[int, dict[int, int]]:
    """Canned completions (is_synthetic) of every demo prompt by the base version (v0);
    returns {prompt id: {completion id: quality}} (0 best, see labeling.demo.completions)."""
    version = base_version_ensure(project=project)
    items = {prompt_dedupe_key(**i.dedupe_key_parts): i for i in DEMO_PROMPTS}
    prompts = list(Prompt.objects.filter(project=project, dedupe_key__in=items).order_by("pk"))
    canned = {
        prompt.pk: canned_completions(items[prompt.dedupe_key], project.completions_per_prompt)
        for prompt in prompts
    }
    existing = _canned_existing(version=version, prompt_ids=list(canned))
    missing = [
        Completion(
            prompt=prompt,
            model_version=version,
            text=text,
            request_id=f"{CANNED_REQUEST}-{prompt.pk}",
            index=index,
            finish_reason="length" if quality == PARTIAL else "stop",
            is_synthetic=True,
        )
        for prompt in prompts
        for index, (text, quality) in enumerate(canned[prompt.pk])
        if text not in existing.get(prompt.pk, {})
    ]
    Completion.objects.bulk_create(missing)
    existing = _canned_existing(version=version, prompt_ids=list(canned))
    qualities = {}
    for prompt_id, texts in canned.items():
        quality_of = dict(texts)
        qualities[prompt_id] = {
            pk: quality_of[text] for text, pk in existing.get(prompt_id, {}).items()
        }
    return qualities


def _canned_existing(*, version, prompt_ids: list[int]) -> dict[int, dict[str, int]]:
    rows = Completion.objects.filter(
        prompt_id__in=prompt_ids, model_version=version, is_synthetic=True
    ).values_list("prompt_id", "text", "pk")
    found: dict[int, dict[str, int]] = {}
    for prompt_id, text, pk in rows:
        found.setdefault(prompt_id, {}).setdefault(text, pk)
    return found


@transaction.atomic
def demo_judgements_add(*, project: Project, count: int) -> int:
    """Add up to `count` judgements by the demo annotators over the canned completions.

    They take queue slots as real submissions do (an item, a submitted assignment, the
    item's `taken`), so no annotator judges a task twice and no task goes past the overlap;
    returns how many were added (fewer than `count` once every demo task is full).
    Verdicts follow the completions' known quality with some noise, per a fixed seed.
    """
    if count <= 0:
        return 0
    qualities = demo_completions_ensure(project=project)
    version = base_version_ensure(project=project)
    annotators = list(
        get_user_model()
        .objects.filter(
            username__in=[name for name, role in DEMO_ACCOUNTS.items() if role == Role.ANNOTATOR]
        )
        .order_by("username")
    )
    kinds = [
        kind
        for kind in judgement_kinds()
        if kind in project.task_kinds and kind in SYNTHETIC_VERDICTS
    ]
    created = 0
    for turn, (prompt_id, quality) in enumerate(qualities.items()):
        if len(quality) < project.completions_per_prompt:
            continue
        for kind in kinds:
            item, _ = QueueItem.objects.get_or_create(
                project=project, prompt_id=prompt_id, kind=kind, model_version=version
            )
            done = set(Assignment.objects.filter(item=item).values_list("annotator_id", flat=True))
            rotated = annotators[turn % len(annotators) :] + annotators[: turn % len(annotators)]
            for annotator in rotated:
                if created >= count:
                    return created
                if item.taken >= project.overlap or annotator.pk in done:
                    continue
                _synthetic_judgement_create(
                    project=project, item=item, annotator=annotator, quality=quality
                )
                item.taken += 1
                created += 1
    return created


def _synthetic_judgement_create(*, project: Project, item: QueueItem, annotator, quality) -> None:
    rng = random.Random(f"demo:{item.prompt_id}:{item.kind}:{annotator.pk}")
    shown = sorted(quality)
    rng.shuffle(shown)
    pair = kind_of(item.kind).shows is Shows.PAIR
    if pair:
        shown = shown[:2]
    now = timezone.now()
    time_spent_ms = rng.randint(8_000, 90_000)
    assignment = Assignment.objects.create(
        project=project,
        prompt_id=item.prompt_id,
        item=item,
        annotator=annotator,
        kind=item.kind,
        status=Assignment.Status.SUBMITTED,
        completion_ids=shown,
        left_completion_id=shown[0] if pair else None,
        right_completion_id=shown[1] if pair else None,
        expires_at=now,
        submitted_at=now,
        time_spent_ms=time_spent_ms,
    )
    fields = judgement_payload_clean(
        kind=item.kind, shown=shown, **_synthetic_verdict(item.kind, shown, quality, rng)
    )
    Judgement.objects.create(
        assignment=assignment,
        prompt_id=item.prompt_id,
        annotator=annotator,
        kind=item.kind,
        left_completion_id=assignment.left_completion_id,
        right_completion_id=assignment.right_completion_id,
        time_spent_ms=time_spent_ms,
        **fields,
    )
    QueueItem.objects.filter(pk=item.pk).update(taken=F("taken") + 1)


def _synthetic_verdict(kind: str, shown: list[int], quality: dict[int, int], rng) -> dict:
    """What a careful but human annotator might answer: by quality (0 best), with noise and
    ties."""
    score = {pk: -quality[pk] + rng.gauss(0, 0.7) for pk in shown}
    verdict = {"outcome": None, "ranking": None, "choice": None, "ratings": None, "reason": ""}
    verdict.update(SYNTHETIC_VERDICTS[kind](shown, quality, score, rng))
    return verdict


def _synthetic_ranking(shown: list[int], quality: dict[int, int], score: dict, rng) -> dict:
    if rng.random() < 0.04:
        return {
            "outcome": Judgement.Outcome.NONE_ACCEPTABLE,
            "reason": "None of them really answers the question.",
        }
    ordered = sorted(shown, key=lambda pk: -score[pk])
    groups = [[ordered[0]]]
    for previous, pk in itertools.pairwise(ordered):
        if score[previous] - score[pk] < 0.15:
            groups[-1].append(pk)  # too close to call: a tie
        else:
            groups.append([pk])
    return {"ranking": groups}


def _synthetic_choice(shown: list[int], quality: dict[int, int], score: dict, rng) -> dict:
    left, right = shown
    if min(quality[left], quality[right]) >= VAGUE and rng.random() < 0.5:
        return {"choice": Judgement.Choice.BOTH_BAD}
    if abs(score[left] - score[right]) < 0.2:
        return {"choice": Judgement.Choice.TIE}
    better_left = score[left] > score[right]
    return {"choice": Judgement.Choice.A if better_left else Judgement.Choice.B}


def _synthetic_ratings(shown: list[int], quality: dict[int, int], score: dict, rng) -> dict:
    return {"ratings": {pk: _synthetic_rating(quality[pk], score[pk], rng) for pk in shown}}


# How the synthetic annotator judges each kind; kinds not named here get no demo judgements.
SYNTHETIC_VERDICTS = {
    TaskKind.RANK: _synthetic_ranking,
    TaskKind.COMPARE: _synthetic_choice,
    TaskKind.RATE: _synthetic_ratings,
}


def _synthetic_rating(quality: int, score: float, rng) -> dict:
    def likert(base: float) -> int:
        return max(1, min(5, round(base + rng.gauss(0, 0.6))))

    flags = ["off_topic"] if quality == OFF_TOPIC and rng.random() < 0.7 else []
    return {
        "thumb": "up" if score > -1.5 else "down",
        "helpful": likert(5 - 1.3 * quality),
        "honest": likert(5 - 0.8 * quality),
        "harmless": likert(4.8),
        "flags": flags,
    }
