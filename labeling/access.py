"""Who may see what: one home for the membership checks of pages, the API and the admin.

Access follows a person's role in a project (superusers are admins everywhere). Anyone outside
the project gets 404, so its objects' existence is not confirmed; a member without the role an
operation needs gets 403. The exceptions are Django's: the API's handler answers them as DRF's.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from labeling.models import Assignment, Project, Role

ADMIN_ROLES = (Role.ADMIN,)
REVIEWER_ROLES = (Role.REVIEWER, Role.ADMIN)

ADMINS_ONLY = "Only the project's admins may do this."


def role_in(*, user: AbstractBaseUser, project: Project) -> str | None:
    """The user's role in the project; None for anyone who is not a member."""
    if user.is_superuser:
        return Role.ADMIN
    return project.memberships.filter(user=user).values_list("role", flat=True).first()


def projects_administered_by(*, user: AbstractBaseUser) -> QuerySet[Project]:
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user, memberships__role=Role.ADMIN)


def administered_only(
    queryset: QuerySet, *, user: AbstractBaseUser, project_path: str = "project"
) -> QuerySet:
    """`queryset` narrowed to objects of the projects `user` administers (the admin's lists,
    the training pages, the export downloads); `project_path` leads from the model to its
    project ("project", "prompt__project")."""
    if user.is_superuser:
        return queryset
    projects = projects_administered_by(user=user)
    return queryset.filter(**{f"{project_path}__in": projects})


def project_check(
    *, user: AbstractBaseUser, project: Project | None, roles: Collection[str] | None = None
) -> Project:
    """The project if `user` is a member (with one of `roles`, when given): else 404/403."""
    role = role_in(user=user, project=project) if project is not None else None
    if role is None:
        raise Http404
    if roles is not None and role not in roles:
        raise PermissionDenied(ADMINS_ONLY) if tuple(roles) == ADMIN_ROLES else PermissionDenied
    return project


def project_for(
    *, user: AbstractBaseUser, slug: str, roles: Collection[str] | None = None
) -> Project:
    """The project named by `slug`, checked as `project_check` does."""
    project = Project.objects.filter(slug=slug).first()
    return project_check(user=user, project=project, roles=roles)


def object_for_admin(*, user: AbstractBaseUser, queryset: QuerySet, pk: int) -> Model:
    """An object of a project `user` administers: 404 outside the project, 403 for a member
    who is not its admin."""
    obj = queryset.select_related("project").filter(pk=pk).first()
    project_check(user=user, project=obj.project if obj else None, roles=ADMIN_ROLES)
    return obj


def assignment_for(*, user: AbstractBaseUser, token: uuid.UUID) -> Assignment:
    """The caller's own task in a project they still belong to; 404 for any other token."""
    assignment = (
        Assignment.objects.select_related("project").filter(token=token, annotator=user).first()
    )
    project_check(user=user, project=assignment.project if assignment else None)
    return assignment
