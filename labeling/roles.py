"""The three roles of a project member and the Django groups that carry their permissions.

Permissions are global in Django; which projects they apply to is decided by Membership.
"""

from labeling.models import Role

GROUP_NAMES = {
    Role.ANNOTATOR: "Annotators",
    Role.REVIEWER: "Reviewers",
    Role.ADMIN: "Project admins",
}

_ANNOTATOR_PERMS = {
    ("labeling", "view_project"),
    ("labeling", "view_prompt"),
    ("labeling", "add_demonstration"),
}
_REVIEWER_PERMS = _ANNOTATOR_PERMS | {
    ("labeling", "view_demonstration"),
    ("labeling", "change_demonstration"),
    ("labeling", "view_completion"),
}
# Project admins manage everything in their own projects, but not users or other projects.
_ADMIN_APPS = ("labeling", "training", "serving")
_ADMIN_EXCLUDED = {("labeling", "add_project"), ("labeling", "delete_project")}


def _admin_perms():
    from django.contrib.auth.models import Permission

    own_apps = Permission.objects.filter(content_type__app_label__in=_ADMIN_APPS).exclude(
        codename__in=[codename for _, codename in _ADMIN_EXCLUDED]
    )
    # Looking users up is needed to add members to a project from its admin page.
    return own_apps | _perms({("auth", "view_user")})


def _perms(pairs):
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    query = Q(pk__in=[])
    for app_label, codename in pairs:
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(query)


def _admin_permissions_ensure() -> None:
    """post_migrate creates each app's permissions in INSTALLED_APPS order, so those of apps
    listed after labeling (training) do not exist yet when labeling's handler syncs the groups."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_label in _ADMIN_APPS:
        create_permissions(apps.get_app_config(app_label), verbosity=0)


def role_groups_sync() -> None:
    """Create or update the three groups; safe to run any number of times."""
    from django.contrib.auth.models import Group

    _admin_permissions_ensure()
    wanted = {
        Role.ANNOTATOR: _perms(_ANNOTATOR_PERMS),
        Role.REVIEWER: _perms(_REVIEWER_PERMS),
        Role.ADMIN: _admin_perms(),
    }
    for role, permissions in wanted.items():
        group, _ = Group.objects.get_or_create(name=GROUP_NAMES[role])
        group.permissions.set(permissions)


def role_group(role: str):
    from django.contrib.auth.models import Group

    group = Group.objects.filter(name=GROUP_NAMES[Role(role)]).first()
    if group is None:
        role_groups_sync()
        group = Group.objects.get(name=GROUP_NAMES[Role(role)])
    return group
