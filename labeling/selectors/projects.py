from django.contrib.auth.models import AbstractUser
from django.db.models import Count, OuterRef, QuerySet, Subquery, Value

from labeling.models import Membership, Project, Role


def projects_for(*, user: AbstractUser) -> QuerySet[Project]:
    """Projects the user is a member of (all of them for a superuser), with the user's role."""
    if user.is_superuser:
        projects, role = Project.objects.all(), Value(Role.ADMIN.value)
    else:
        projects = user.projects.all()
        role = Subquery(
            Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
        )
    return projects.annotate(prompt_count=Count("prompts", distinct=True), my_role=role).order_by(
        "name"
    )
