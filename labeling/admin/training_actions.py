"""The actions that start training from labeling's admin: "Start training run…" on a project,
"Train on this export…" on a finished export.

Training's admin owns the page and the service call (training.admin.TrainingRunAdmin's start
views); these actions check what was chosen and answer with that page, reached by its URL
name, so labeling imports nothing of training's services. The page posts back here (its form
repeats the action and the selection), so the steps stay on this changelist as before.
"""

from django.contrib import admin, messages
from django.urls import resolve, reverse
from django.utils.translation import gettext_lazy as _

from labeling.models import DatasetExport


def _training_page(request, name: str, pk: int):
    """Training's admin view `name` for object `pk`, answering this action's request."""
    match = resolve(reverse(f"admin:{name}", args=[pk]))
    return match.func(request, *match.args, **match.kwargs)


@admin.action(description=_("Start training run…"))
def start_training_run(modeladmin, request, queryset):
    """Training's start form for the chosen project (one project at a time)."""
    if queryset.count() != 1:
        modeladmin.message_user(request, _("Choose exactly one project."), messages.WARNING)
        return None
    return _training_page(request, "training_trainingrun_start", queryset.get().pk)


@admin.action(description=_("Train on this export…"))
def train_on_export(modeladmin, request, queryset):
    """The same form, with the export and the method that fits its format chosen."""
    if queryset.count() != 1:
        modeladmin.message_user(request, _("Choose exactly one export."), messages.WARNING)
        return None
    export = queryset.get()
    if export.status != DatasetExport.Status.DONE:
        status = str(export.get_status_display()).lower()
        not_done = _("Export #%(export)s is %(status)s, not done.")
        modeladmin.message_user(
            request, not_done % {"export": export.pk, "status": status}, messages.WARNING
        )
        return None
    return _training_page(request, "training_trainingrun_start_from_export", export.pk)
