from django.db import models

from labeling.models.prompt import Prompt


class Completion(models.Model):
    """One sampled answer of one model version to one prompt."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="completions")
    model_version = models.ForeignKey(
        "training.ModelVersion", on_delete=models.PROTECT, related_name="completions"
    )
    text = models.TextField()
    request_id = models.CharField(
        max_length=64, blank=True, help_text="Completions sampled in one request share it."
    )
    index = models.PositiveSmallIntegerField(default=0, help_text="Position within the request.")
    sampling_params = models.JSONField(default=dict)
    seed = models.BigIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    mean_logprob = models.FloatField(
        null=True,
        blank=True,
        help_text="Mean log-probability of its sampled tokens (nats), when the server gave them.",
    )
    is_synthetic = models.BooleanField(
        default=False, help_text="Canned demo text, not sampled from a model server."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["prompt", "model_version"])]

    def __str__(self) -> str:
        return self.text[:60]
