"""How unsure a model version is of a prompt: the figures the 'uncertainty' prompt selection
orders by (the formula is in labeling.quality.uncertainty), and how far votes are counted."""

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from labeling.models.prompt import Prompt


class PromptUncertainty(models.Model):
    """One prompt's uncertainty for one model version, written by the generation worker when
    its completions are stored and when new votes on them come in (labeling.services
    .uncertainty), never while a task is handed out or submitted. The queue items of the
    prompt and version carry a copy of `score`."""

    prompt = models.ForeignKey(
        Prompt, verbose_name=_("prompt"), on_delete=models.CASCADE, related_name="uncertainties"
    )
    model_version = models.ForeignKey(
        "training.ModelVersion",
        verbose_name=_("model version"),
        on_delete=models.CASCADE,
        related_name="prompt_uncertainties",
    )
    completions_spread = models.FloatField(
        verbose_name=_("completions spread"),
        null=True,
        blank=True,
        help_text=_(
            "Standard deviation of the version's n completions' mean token log-probability "
            "(nats); empty when the server gave no log-probabilities."
        ),
    )
    votes_split = models.FloatField(
        verbose_name=_("votes split"),
        null=True,
        blank=True,
        help_text=_(
            "1 - agreement of the annotators' votes on these completions (0 to 1); "
            "empty until two annotators judged them."
        ),
    )
    score = models.FloatField(
        verbose_name=_("score"),
        default=0.0,
        help_text=_("The two combined, 0 (sure) to 1 (unsure); higher goes first."),
    )
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "model_version"], name="prompt_uncertainty_unique"
            )
        ]
        indexes = [
            # Generation's "most uncertain under the previous version first".
            models.Index(fields=["model_version", "-score"], name="prompt_uncertainty_score_idx")
        ]
        verbose_name = _("prompt uncertainty")
        verbose_name_plural = _("prompt uncertainties")

    def __str__(self) -> str:
        return gettext("#%(prompt)s under version %(version)s: %(score).2f") % {
            "prompt": self.prompt_id,
            "version": self.model_version_id,
            "score": self.score,
        }


class VotesCursor(models.Model):
    """How far the generation worker has folded a project's judgements into votes_split, in
    judgement ids: every judgement up to `position` is counted (younger ones are looked at
    again, as the queue feed's cursor does, since a lower id may still commit)."""

    project = models.OneToOneField(
        "labeling.Project",
        verbose_name=_("project"),
        on_delete=models.CASCADE,
        related_name="votes_cursor",
    )
    position = models.BigIntegerField(verbose_name=_("position"), default=0)

    class Meta:
        verbose_name = _("votes cursor")
        verbose_name_plural = _("votes cursors")

    def __str__(self) -> str:
        return gettext("%(project)s: judgements up to %(position)s") % {
            "project": self.project_id,
            "position": self.position,
        }
