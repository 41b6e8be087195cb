from django.db import models


class ModelServer(models.Model):
    """What the background worker last saw of one vLLM server, for the admin and the backoff.

    Rows are written only by serving.services; a URL gets its row on its first check, so the
    table lists every server the worker has talked to.
    """

    class State(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        UP = "up", "Up"
        DOWN = "down", "Down"

    url = models.CharField(max_length=500, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.UNKNOWN)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(
        null=True, blank=True, help_text="While down: no request is sent before this time."
    )

    class Meta:
        # The table was created by the training app (training/migrations/0002); the model
        # moved here in state only, so existing databases keep their rows.
        db_table = "training_modelserver"
        ordering = ["url"]

    def __str__(self) -> str:
        return f"{self.url} ({self.get_state_display()})"
