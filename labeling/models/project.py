from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.texts import text_shown
from training.engine.prompts import DEFAULT_TEXT_TEMPLATE, template_problems


class TaskKind(models.TextChoices):
    WRITE = "write", _("Write a demonstration")
    ANSWER = "answer", _("Answer a prompt")
    RANK = "rank", _("Rank completions")
    COMPARE = "compare", _("Compare two completions")
    RATE = "rate", _("Rate completions")
    EDIT = "edit", _("Edit a completion")
    CONTINUE = "continue", _("Continue a conversation")


class PromptSelection(models.TextChoices):
    """Which prompts get completions and tasks first (labeling.selectors.selection)."""

    ORDER = "order", _("In order (oldest first)")
    RANDOM = "random", _("Random (a stable shuffle)")
    UNCERTAINTY = "uncertainty", _("Most uncertain first")


def default_task_kinds() -> list[str]:
    return [kind.value for kind in TaskKind]


def text_template_validate(value: str) -> None:
    """The engine's rule (training.engine.prompts.template_problems), in the reader's words."""
    problems = template_problems(value)
    if problems:
        shown = text_shown(problems[0])
        raise ValidationError(f"{shown[0].upper()}{shown[1:]}.")


def task_kind_weights_validate(weights, *, enabled: list[str]) -> None:
    """Weights are whole numbers of at least 0 by known kind, and an enabled kind weighs more
    than 0 (else the queue could pick none of them first)."""
    if not isinstance(weights, dict):
        message = gettext("Weights are a mapping of task kind to weight.")
        raise ValidationError({"task_kinds": message})
    unknown = sorted(set(weights) - set(TaskKind.values))
    if unknown:
        message = gettext("Weights for unknown task kinds: %(kinds)s")
        raise ValidationError({"task_kinds": message % {"kinds": ", ".join(unknown)}})
    for kind, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int):
            message = gettext("The weight of “%(kind)s” must be a whole number.")
            raise ValidationError({"task_kinds": message % {"kind": kind}})
        if weight < 0:
            message = gettext("The weight of “%(kind)s” cannot be negative.")
            raise ValidationError({"task_kinds": message % {"kind": kind}})
    if enabled and all(weights.get(kind, 1) == 0 for kind in enabled):
        message = gettext("At least one enabled task kind needs a weight above 0.")
        raise ValidationError({"task_kinds": message})


class Project(models.Model):
    name = models.CharField(verbose_name=_("name"), max_length=200)
    slug = models.SlugField(verbose_name=_("slug"), max_length=80, unique=True)
    guidelines = models.TextField(
        verbose_name=_("guidelines"), blank=True, help_text=_("Markdown, shown beside every task.")
    )
    task_kinds = models.JSONField(
        verbose_name=_("task kinds"),
        default=default_task_kinds,
        help_text=format_lazy(
            _("Task kinds annotators get in this project: {kinds}"),
            kinds=", ".join(TaskKind.values),
        ),
    )
    task_kind_weights = models.JSONField(
        verbose_name=_("task kind weights"),
        default=dict,
        blank=True,
        help_text=_(
            "Each enabled kind's weight: the queue picks the kind of the next task in these "
            "proportions while the kinds have work (a kind not named weighs 1). A kind of "
            "weight 0 is handed out only when no other kind has work."
        ),
    )
    completions_per_prompt = models.PositiveSmallIntegerField(
        verbose_name=_("completions per prompt"),
        default=4,
        validators=[MinValueValidator(2), MaxValueValidator(9)],
        help_text=_("n: completions generated for each prompt (ranking uses all of them)."),
    )
    temperature = models.FloatField(
        verbose_name=_("temperature"),
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(2.0)],
    )
    top_p = models.FloatField(
        verbose_name=_("top-p"),
        default=0.95,
        validators=[MinValueValidator(0.01), MaxValueValidator(1.0)],
    )
    max_tokens = models.PositiveIntegerField(
        verbose_name=_("max tokens"),
        default=256,
        validators=[MinValueValidator(1), MaxValueValidator(4096)],
    )
    prompt_selection = models.CharField(
        verbose_name=_("prompt selection"),
        max_length=16,
        choices=PromptSelection.choices,
        default=PromptSelection.ORDER,
        help_text=_(
            "Which prompts are generated and handed out first: in order, in a stable random "
            "order, or those the live model is least sure of (its completions' log-probability "
            "spread, and how split the annotators' votes were) first."
        ),
    )
    overlap = models.PositiveSmallIntegerField(
        verbose_name=_("overlap"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("How many different annotators judge each prompt."),
    )
    gold_share = models.FloatField(
        verbose_name=_("gold share"),
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_(
            "Probability that the next rank or compare task is a gold item the annotator has "
            "not judged yet. Above 0, every annotator gets each gold item once, past the "
            "overlap, so gold accuracy covers all of them (0: gold items are ordinary ones)."
        ),
    )
    compare_share = models.FloatField(
        verbose_name=_("compare share"),
        default=0.25,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_(
            "Share of prompts whose compare task puts a completion of the live version beside "
            "one of the version it replaced (sides hidden and random), so annotators' choices "
            "give the new version's win rate. Those prompts also get completions of the "
            "replaced version, which costs that much more generation (0: never compare)."
        ),
    )
    text_template = models.TextField(
        verbose_name=_("text template"),
        default=DEFAULT_TEXT_TEMPLATE,
        validators=[text_template_validate],
        help_text=_(
            "How the plain-text export renders a demonstration for base models without a chat "
            "template: {instruction}, {input} and {output} are replaced; a paragraph whose "
            "placeholder is empty is left out. The text before {output} is the prompt."
        ),
    )
    drafting_url = models.CharField(
        verbose_name=_("drafting URL"),
        max_length=200,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_(
            "An OpenAI-compatible server that drafts instructions and answers (a larger "
            "teacher); empty: the served model drafts."
        ),
    )
    drafting_model = models.CharField(
        verbose_name=_("drafting model"),
        max_length=200,
        blank=True,
        help_text=_("The model name on the drafting server; empty: the live version's."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("members"),
        through="Membership",
        related_name="projects",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        unknown = sorted(set(self.task_kinds or []) - set(TaskKind.values))
        if unknown:
            message = gettext("Unknown task kinds: %(kinds)s") % {"kinds": ", ".join(unknown)}
            raise ValidationError({"task_kinds": message})
        if not self.task_kinds:
            raise ValidationError({"task_kinds": gettext("Enable at least one task kind.")})
        task_kind_weights_validate(self.task_kind_weights, enabled=self.task_kinds)

    @property
    def sampling_params(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}


class Role(models.TextChoices):
    ANNOTATOR = "annotator", _("Annotator")
    REVIEWER = "reviewer", _("Reviewer")
    ADMIN = "admin", _("Project admin")


class Membership(models.Model):
    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(
        verbose_name=_("role"), max_length=16, choices=Role.choices, default=Role.ANNOTATOR
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_project")
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return gettext("%(user)s: %(role)s in %(project)s") % {
            "user": self.user,
            "role": self.get_role_display(),
            "project": self.project,
        }
