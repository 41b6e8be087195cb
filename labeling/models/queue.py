"""The annotation queue's bookkeeping: one row per unit of work, and where the feed stopped.

A QueueItem is one prompt's work of one task kind (for kinds that show completions: of one
model version). `taken` counts submitted plus active assignments, so picking the next task is
an index lookup over the open items instead of counting judgements over every prompt.
Items are created lazily from a cursor over new prompts or new completions (see
labeling.services.queue), which keeps the open set small however large the project grows.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from labeling.models.project import Project, TaskKind
from labeling.models.prompt import Prompt


class QueueItem(models.Model):
    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="queue_items"
    )
    prompt = models.ForeignKey(
        Prompt, verbose_name=_("prompt"), on_delete=models.CASCADE, related_name="queue_items"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=TaskKind.choices)
    model_version = models.ForeignKey(
        "training.ModelVersion",
        verbose_name=_("model version"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="queue_items",
        help_text=_("Whose completions are shown; empty for kinds that show none (answer)."),
    )
    versus = models.ForeignKey(
        "training.ModelVersion",
        verbose_name=_("versus"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_(
            "Head-to-head compare items only: the version the live one replaced; the task "
            "shows one completion of each, on random sides."
        ),
    )
    taken = models.PositiveSmallIntegerField(
        verbose_name=_("taken"),
        default=0,
        help_text=_(
            "Submitted plus active assignments; open while below the overlap (gold items go "
            "past it: every annotator gets each once)."
        ),
    )
    uncertainty = models.FloatField(
        verbose_name=_("uncertainty"),
        default=0.0,
        db_default=0.0,  # rows written without the ORM (bench/next_task.py) get it too
        help_text=_(
            "The prompt's uncertainty score for this version (PromptUncertainty.score), copied "
            "when the item is made and when votes change it: the project's 'uncertainty' "
            "prompt selection hands out the highest first."
        ),
    )
    shuffle = models.FloatField(
        verbose_name=_("shuffle"),
        default=0.0,
        db_default=0.0,
        help_text=_("A stable random rank in [0, 1) of the prompt: the 'random' prompt selection."),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "kind", "model_version"],
                condition=Q(model_version__isnull=False),
                name="queue_item_unique_per_version",
            ),
            models.UniqueConstraint(
                fields=["prompt", "kind"],
                condition=Q(model_version__isnull=True),
                name="queue_item_unique_without_version",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "kind", "taken", "id"], name="queue_item_open_idx"),
            # The open-item pick in the order of the project's prompt selection
            # (labeling.selectors.selection.queue_order).
            models.Index(
                fields=["project", "kind", "-taken", "-uncertainty", "id"],
                name="queue_item_uncertain_idx",
            ),
            models.Index(
                fields=["project", "kind", "-taken", "shuffle", "id"], name="queue_item_shuffle_idx"
            ),
        ]
        verbose_name = _("queue item")
        verbose_name_plural = _("queue items")

    def __str__(self) -> str:
        return gettext("%(kind)s #%(prompt)s (%(taken)s taken)") % {
            "kind": self.kind,
            "prompt": self.prompt_id,
            "taken": self.taken,
        }


class QueueCursor(models.Model):
    """How far QueueItems of one kind were created, in prompt ids (answer) or completion ids
    of `model_version` (kinds that show completions).

    `position`: every row up to it is done. `seen`: the highest row looked at; rows between
    the two are young enough that a lower id might still commit, so they are looked at again.
    """

    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="queue_cursors"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=16, choices=TaskKind.choices)
    model_version = models.ForeignKey(
        "training.ModelVersion",
        verbose_name=_("model version"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="queue_cursors",
    )
    position = models.BigIntegerField(verbose_name=_("position"), default=0)
    seen = models.BigIntegerField(verbose_name=_("seen"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "kind", "model_version"],
                condition=Q(model_version__isnull=False),
                name="queue_cursor_unique_per_version",
            ),
            models.UniqueConstraint(
                fields=["project", "kind"],
                condition=Q(model_version__isnull=True),
                name="queue_cursor_unique_without_version",
            ),
        ]
        verbose_name = _("queue cursor")
        verbose_name_plural = _("queue cursors")

    def __str__(self) -> str:
        return f"{self.project_id}/{self.kind}/{self.model_version_id}: {self.position}"
