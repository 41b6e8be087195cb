from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from labeling.models.assignment import Assignment
from labeling.models.completion import Completion
from labeling.models.project import TaskKind
from labeling.models.prompt import Prompt

# The 1-5 scores a rating may carry beside its thumb (Judgement.ratings), in the order shown.
LIKERT_FIELDS = ("helpful", "honest", "harmless")


class Judgement(models.Model):
    """One annotator's verdict on one prompt's completions. Preferences (chosen, rejected)
    are derived from these rows, never stored a second time."""

    class Outcome(models.TextChoices):
        RANKED = "ranked", _("Ranked")
        NONE_ACCEPTABLE = "none_acceptable", _("None acceptable")
        CANNOT_JUDGE = "cannot_judge", _("Cannot judge")
        CHOICE = "choice", _("Chose in a comparison")
        RATED = "rated", _("Rated")

    class Choice(models.TextChoices):
        A = "a", _("A (left) is better")
        B = "b", _("B (right) is better")
        TIE = "tie", _("Tie")
        BOTH_BAD = "both_bad", _("Both bad")

    class Thumb(models.TextChoices):
        UP = "up", _("Thumbs up")
        DOWN = "down", _("Thumbs down")

    class Flag(models.TextChoices):
        HARMFUL = "harmful", _("Harmful")
        FACTUALLY_WRONG = "factually_wrong", _("Factually wrong")
        OFF_TOPIC = "off_topic", _("Off-topic")
        PERSONAL_DATA = "personal_data", _("Contains personal data")

    assignment = models.OneToOneField(
        Assignment, verbose_name=_("assignment"), on_delete=models.CASCADE, related_name="judgement"
    )
    prompt = models.ForeignKey(
        Prompt, verbose_name=_("prompt"), on_delete=models.CASCADE, related_name="judgements"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("annotator"),
        on_delete=models.CASCADE,
        related_name="judgements",
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=TaskKind.choices)
    outcome = models.CharField(verbose_name=_("outcome"), max_length=16, choices=Outcome.choices)
    ranking = models.JSONField(
        verbose_name=_("ranking"),
        null=True,
        blank=True,
        help_text=_("Tie groups of completion ids, best first: [[5], [7, 8], [6]]."),
    )
    choice = models.CharField(
        verbose_name=_("choice"), max_length=16, choices=Choice.choices, blank=True
    )
    left_completion = models.ForeignKey(
        Completion,
        verbose_name=_("left completion"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    right_completion = models.ForeignKey(
        Completion,
        verbose_name=_("right completion"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    ratings = models.JSONField(
        verbose_name=_("ratings"),
        null=True,
        blank=True,
        help_text=_('{completion id: {"thumb", "helpful", "honest", "harmless", "flags"}}'),
    )
    reason = models.TextField(verbose_name=_("reason"), blank=True)
    time_spent_ms = models.PositiveIntegerField(
        verbose_name=_("time spent (ms)"), null=True, blank=True
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["prompt", "kind"], name="judgement_prompt_kind_idx")]
        verbose_name = _("judgement")
        verbose_name_plural = _("judgements")

    def __str__(self) -> str:
        return gettext("%(kind)s by %(annotator)s: %(outcome)s") % {
            "kind": self.get_kind_display(),
            "annotator": self.annotator,
            "outcome": self.get_outcome_display(),
        }
