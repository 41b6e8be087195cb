from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_role_groups(sender, **kwargs) -> None:
    from labeling.roles import role_groups_sync

    role_groups_sync()


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = _("Labeling")

    def ready(self) -> None:
        # Groups need the permissions that post_migrate creates, so they are synced after it.
        post_migrate.connect(_sync_role_groups, sender=self)
