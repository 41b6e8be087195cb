from django.db import models
from django.utils.translation import gettext_lazy as _

from labeling.models.prompt import Prompt


class Completion(models.Model):
    """One sampled answer of one model version to one prompt."""

    prompt = models.ForeignKey(
        Prompt, verbose_name=_("prompt"), on_delete=models.CASCADE, related_name="completions"
    )
    model_version = models.ForeignKey(
        "training.ModelVersion",
        verbose_name=_("model version"),
        on_delete=models.PROTECT,
        related_name="completions",
    )
    text = models.TextField(verbose_name=_("text"))
    request_id = models.CharField(
        verbose_name=_("request ID"),
        max_length=64,
        blank=True,
        help_text=_("Completions sampled in one request share it."),
    )
    index = models.PositiveSmallIntegerField(
        verbose_name=_("index"), default=0, help_text=_("Position within the request.")
    )
    sampling_params = models.JSONField(verbose_name=_("sampling params"), default=dict)
    seed = models.BigIntegerField(verbose_name=_("seed"), null=True, blank=True)
    finish_reason = models.CharField(verbose_name=_("finish reason"), max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(
        verbose_name=_("prompt tokens"), null=True, blank=True
    )
    completion_tokens = models.PositiveIntegerField(
        verbose_name=_("completion tokens"), null=True, blank=True
    )
    latency_ms = models.PositiveIntegerField(verbose_name=_("latency (ms)"), null=True, blank=True)
    mean_logprob = models.FloatField(
        verbose_name=_("mean log-probability"),
        null=True,
        blank=True,
        help_text=_(
            "Mean log-probability of its sampled tokens (nats), when the server gave them."
        ),
    )
    drafted_by = models.CharField(
        verbose_name=_("drafted by"),
        max_length=200,
        blank=True,
        help_text=_("A drafting job's model, when one drafted it as an answer to edit."),
    )
    is_synthetic = models.BooleanField(
        verbose_name=_("synthetic"),
        default=False,
        help_text=_("Canned demo text, not sampled from a model server."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["prompt", "model_version"])]
        verbose_name = _("completion")
        verbose_name_plural = _("completions")

    def __str__(self) -> str:
        return self.text[:60]
