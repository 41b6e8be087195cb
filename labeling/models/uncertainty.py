"""How unsure a model version is of a prompt: the figures the 'uncertainty' prompt selection
orders by (the formula is in labeling.quality.uncertainty), and how far votes are counted."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from labeling.models.prompt import Prompt


class PromptUncertainty(models.Model):
    """One prompt's uncertainty for one model version, written by the generation worker when
    its completions are stored and when new votes on them come in (labeling.services
    .uncertainty), never while a task is handed out or submitted. The queue items of the
    prompt and version carry a copy of `score`."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="uncertainties")
    model_version = models.ForeignKey(
        "training.ModelVersion", on_delete=models.CASCADE, related_name="prompt_uncertainties"
    )
    completions_spread = models.FloatField(
        null=True,
        blank=True,
        help_text=(
            "Standard deviation of the version's n completions' mean token log-probability "
            "(nats); empty when the server gave no log-probabilities."
        ),
    )
    votes_split = models.FloatField(
        null=True,
        blank=True,
        help_text=_(
            "1 - agreement of the annotators' votes on these completions (0 to 1); "
            "empty until two annotators judged them."
        ),
    )
    score = models.FloatField(
        default=0.0, help_text=_("The two combined, 0 (sure) to 1 (unsure); higher goes first.")
    )
    updated_at = models.DateTimeField(auto_now=True)

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
        verbose_name_plural = "prompt uncertainties"

    def __str__(self) -> str:
        return f"#{self.prompt_id} under version {self.model_version_id}: {self.score:.2f}"


class VotesCursor(models.Model):
    """How far the generation worker has folded a project's judgements into votes_split, in
    judgement ids: every judgement up to `position` is counted (younger ones are looked at
    again, as the queue feed's cursor does, since a lower id may still commit)."""

    project = models.OneToOneField(
        "labeling.Project", on_delete=models.CASCADE, related_name="votes_cursor"
    )
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.project_id}: judgements up to {self.position}"
