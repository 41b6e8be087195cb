from django.db import models
from django.utils.translation import gettext_lazy as _

from labeling.models.prompt import Prompt


class Completion(models.Model):
    """One sampled answer of one model version to one prompt."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="completions")
    model_version = models.ForeignKey(
        "training.ModelVersion", on_delete=models.PROTECT, related_name="completions"
    )
    text = models.TextField()
    request_id = models.CharField(
        max_length=64, blank=True, help_text=_("Completions sampled in one request share it.")
    )
    index = models.PositiveSmallIntegerField(default=0, help_text=_("Position within the request."))
    sampling_params = models.JSONField(default=dict)
    seed = models.BigIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    mean_logprob = models.FloatField(
        null=True,
        blank=True,
        help_text=_(
            "Mean log-probability of its sampled tokens (nats), when the server gave them."
        ),
    )
    drafted_by = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("A drafting job's model, when one drafted it as an answer to edit."),
    )
    is_synthetic = models.BooleanField(
        default=False, help_text=_("Canned demo text, not sampled from a model server.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["prompt", "model_version"])]

    def __str__(self) -> str:
        return self.text[:60]
