"""Access checks: every object is checked against the caller's membership of its project.

Another project's objects answer 404 (their existence is not confirmed); a member without
the role an operation needs gets 403.
"""

import uuid

from django.contrib.auth.models import AbstractUser
from rest_framework.exceptions import NotFound, PermissionDenied

from labeling.models import Assignment, Project, Role
from labeling.selectors.projects import role_in


def project_check(*, user: AbstractUser, project: Project | None, admin: bool = False) -> Project:
    """The project if `user` is a member of it (its admin when `admin`), else 404/403."""
    role = role_in(user=user, project=project) if project is not None else None
    if role is None:
        raise NotFound
    if admin and role != Role.ADMIN:
        raise PermissionDenied("Only the project's admins may do this.")
    return project


def project_of(*, user: AbstractUser, slug: str, admin: bool = False) -> Project:
    project = Project.objects.filter(slug=slug).first()
    return project_check(user=user, project=project, admin=admin)


def object_of_admin(*, user: AbstractUser, queryset, pk: int):
    """An object of a project `user` administers; 404 for anyone outside the project."""
    obj = queryset.select_related("project").filter(pk=pk).first()
    project_check(user=user, project=obj.project if obj else None, admin=True)
    return obj


def assignment_of(*, user: AbstractUser, token: uuid.UUID) -> Assignment:
    """The caller's own task in a project they still belong to; 404 for any other token."""
    assignment = (
        Assignment.objects.select_related("project").filter(token=token, annotator=user).first()
    )
    project_check(user=user, project=assignment.project if assignment else None)
    return assignment
