from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelServer(models.Model):
    """What the background worker last saw of one vLLM server, for the admin and the backoff.

    Rows are written only by serving.services; a URL gets its row on its first check, so the
    table lists every server the worker has talked to.
    """

    class State(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        UP = "up", _("Up")
        DOWN = "down", _("Down")

    url = models.CharField(verbose_name=_("URL"), max_length=500, unique=True)
    state = models.CharField(
        verbose_name=_("state"), max_length=16, choices=State.choices, default=State.UNKNOWN
    )
    last_checked_at = models.DateTimeField(verbose_name=_("last checked at"), null=True, blank=True)
    last_ok_at = models.DateTimeField(verbose_name=_("last OK at"), null=True, blank=True)
    last_error = models.TextField(verbose_name=_("last error"), blank=True)
    consecutive_failures = models.PositiveIntegerField(
        verbose_name=_("consecutive failures"), default=0
    )
    next_retry_at = models.DateTimeField(
        verbose_name=_("next retry at"),
        null=True,
        blank=True,
        help_text=_("While down: no request is sent before this time."),
    )
    # What the server's agent last reported (servers without an agent never fill these in).
    adapters = models.JSONField(
        verbose_name=_("adapters"),
        default=list,
        blank=True,
        help_text=_("Adapters loaded on the server, by its agent's report."),
    )
    adapter_failures = models.JSONField(
        verbose_name=_("adapter failures"),
        default=dict,
        blank=True,
        help_text=_("Adapters its agent could not load, and why."),
    )
    agent_error = models.TextField(verbose_name=_("agent error"), blank=True)
    agent_reported_at = models.DateTimeField(
        verbose_name=_("agent reported at"), null=True, blank=True
    )

    class Meta:
        # The table was created by the training app (training/migrations/0002); the model
        # moved here in state only, so existing databases keep their rows.
        db_table = "training_modelserver"
        ordering = ["url"]
        verbose_name = _("model server")
        verbose_name_plural = _("model servers")

    def __str__(self) -> str:
        return f"{self.url} ({self.get_state_display()})"


class AdapterRollout(models.Model):
    """An adapter being published through the agents: listed to them (with the adapters every
    project wants) until every server reports it loaded or the publish gives up."""

    name = models.CharField(verbose_name=_("name"), max_length=200, unique=True)
    path = models.CharField(verbose_name=_("path"), max_length=1000)
    started_at = models.DateTimeField(verbose_name=_("started at"))

    class Meta:
        verbose_name = _("adapter rollout")
        verbose_name_plural = _("adapter rollouts")

    def __str__(self) -> str:
        return self.name
