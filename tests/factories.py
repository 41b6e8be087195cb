"""factory_boy factories that build through the services, as the app itself does."""

import factory
from django.contrib.auth import get_user_model
from faker import Faker

from labeling.models import Project, Prompt
from labeling.services.projects import project_create
from labeling.services.prompts import prompt_create

_fake = Faker()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class ProjectFactory(factory.django.DjangoModelFactory):
    """A project made by `project_create`, so it has its live base model version."""

    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return project_create(**kwargs)


class PromptFactory(factory.django.DjangoModelFactory):
    """A prompt made by `prompt_create`, so its dedupe key is the real one."""

    class Meta:
        model = Prompt

    project = factory.SubFactory(ProjectFactory)
    # Distinct wording, not "sentence number n": near-duplicate removal in exports would
    # (rightly) treat prompts differing by one digit as the same question.
    instruction = factory.Sequence(lambda n: f"{_fake.sentence(nb_words=12)} (#{n})")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return prompt_create(**kwargs)


class CompletionFactory(factory.django.DjangoModelFactory):
    """A completion of the prompt's project's live model version (the queue shows those)."""

    class Meta:
        model = "labeling.Completion"

    prompt = factory.SubFactory(PromptFactory)
    model_version = factory.LazyAttribute(
        lambda completion: completion.prompt.project.model_versions.get(status="live")
    )
    text = factory.Sequence(lambda n: f"Completion text {n}.")
    is_synthetic = True


def split_seed(prompt_ids, ratios, *, min_train: int, min_held_out: int) -> int:
    """An export seed whose split by prompt gives at least `min_train` training prompts and
    `min_held_out` validation ones (the split hashes (seed, prompt id); small tests need a
    seed that leaves both sides big enough)."""
    from labeling.exports.split import split_of

    for seed in range(1000):
        sides = [split_of(i, seed=seed, ratios=ratios) for i in prompt_ids]
        if sides.count("train") >= min_train and sides.count("validation") >= min_held_out:
            return seed
    raise AssertionError(f"no seed splits {len(prompt_ids)} prompts as asked")
