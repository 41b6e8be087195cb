"""Fixtures of the export tests: a project with a little of everything, and its admin."""

import pytest

from labeling.models import Demonstration, Role
from labeling.services.projects import membership_grant
from tests.factories import ProjectFactory, PromptFactory, UserFactory
from tests.labeling.exports.builders import compare, completions, demonstration, rank, rate


@pytest.fixture(autouse=True)
def _exports_dir(settings, tmp_path):
    settings.EXPORTS_DIR = tmp_path / "exports"


@pytest.fixture
def project():
    return ProjectFactory(slug="shop")


@pytest.fixture
def annotators():
    return [UserFactory(username=f"annotator{n}") for n in range(1, 4)]


@pytest.fixture
def mixed_project(project, annotators):
    """A little of everything: demonstrations, rankings, comparisons, ratings, an edit."""
    first, second = annotators[:2]
    for n, animal in enumerate(["otter", "heron", "badger", "lynx", "walrus", "gecko"]):
        prompt = PromptFactory(
            project=project,
            instruction=f"Describe the {animal} in one sentence, please.",
            input="Zoo catalogue." if n % 2 else "",
            category="open_qa",
        )
        good, fair, poor = completions(
            prompt, f"A fine animal {n}.", f"An animal {n}.", f"Bananas {n}."
        )
        demonstration(prompt, f"Animal {n} is a friendly creature.", author=first)
        rank(prompt, first, [good], [fair], [poor])
        compare(prompt, second, good, poor, "a")
        rate(prompt, second, {good: "up", fair: "up", poor: "down"})
        demonstration(
            prompt,
            f"Animal {n} is a fine and friendly creature.",
            origin=Demonstration.Origin.EDITED,
            author=second,
            source_completion=fair,
        )
    return project


@pytest.fixture
def project_admin(project):
    user = UserFactory(username="boss")
    membership_grant(project=project, user=user, role=Role.ADMIN)
    return user
