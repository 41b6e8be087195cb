from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import transaction

from labeling.models import Membership, Project, Role
from labeling.roles import role_group
from training.models import ModelVersion


@transaction.atomic
def project_create(
    *,
    name: str,
    slug: str,
    guidelines: str = "",
    task_kinds: list[str] | None = None,
    task_kind_weights: dict[str, int] | None = None,
    completions_per_prompt: int = 4,
    overlap: int = 1,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_tokens: int = 256,
    compare_share: float | None = None,
) -> Project:
    """A project starts with the base model as its live version 0."""
    project = Project(
        name=name,
        slug=slug,
        guidelines=guidelines,
        completions_per_prompt=completions_per_prompt,
        overlap=overlap,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
    )
    if task_kinds is not None:
        project.task_kinds = task_kinds
    if task_kind_weights is not None:
        project.task_kind_weights = task_kind_weights
    if compare_share is not None:
        project.compare_share = compare_share
    project.full_clean()
    project.save()
    base_version_ensure(project=project)
    return project


def base_version_ensure(*, project: Project) -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        project=project,
        number=0,
        defaults={
            "base_model_path": str(settings.BASE_MODEL_DIR),
            "served_name": settings.BASE_MODEL_NAME,
            "status": ModelVersion.Status.LIVE,
        },
    )
    return version


@transaction.atomic
def membership_grant(*, project: Project, user: AbstractUser, role: str) -> Membership:
    """Make `user` a member of `project` with `role` (changing the role if already a member)."""
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": Role(role)}
    )
    user.groups.add(role_group(role))
    if role == Role.ADMIN and not user.is_staff:
        user.is_staff = True  # the Django admin is the project admins' console
        user.save(update_fields=["is_staff"])
    return membership


@transaction.atomic
def project_update(*, project: Project, **fields) -> Project:
    """Change a project's settings; the model's full_clean decides what is valid."""
    for name, value in fields.items():
        setattr(project, name, value)
    project.full_clean()
    project.save(update_fields=list(fields) or None)
    return project
