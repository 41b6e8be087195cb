"""Access checks of the API views, decided by labeling.access (as for the pages and the admin).

Another project's objects answer 404 (their existence is not confirmed); a member without
the role an operation needs gets 403. DRF answers Django's Http404 and PermissionDenied as
its own NotFound and PermissionDenied, message included.
"""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db.models import Model, QuerySet

from labeling.access import ADMIN_ROLES, assignment_for, object_for_admin, project_for
from labeling.models import Assignment, Project


def project_of(*, user: AbstractUser, slug: str, admin: bool = False) -> Project:
    """The project if `user` is a member of it (its admin when `admin`), else 404/403."""
    return project_for(user=user, slug=slug, roles=ADMIN_ROLES if admin else None)


def object_of_admin(*, user: AbstractUser, queryset: QuerySet, pk: int) -> Model:
    """An object of a project `user` administers; 404 for anyone outside the project."""
    return object_for_admin(user=user, queryset=queryset, pk=pk)


def assignment_of(*, user: AbstractUser, token: uuid.UUID) -> Assignment:
    """The caller's own task in a project they still belong to; 404 for any other token."""
    return assignment_for(user=user, token=token)
