"""One base for every "no" a service says to a person: a message for them and a code for code.

A view shows `message`; the API answers `{"detail": message, "code": code}` (see
labeling.api.exceptions), so a client branches on the code, never on an English or Korean
sentence. Each refusal names its code from `RefusalCode`, the one list of them.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RefusalCode(models.TextChoices):
    # submissions (labeling.services.queue)
    ALREADY_SUBMITTED = "already_submitted", _("The task was already submitted")
    WRONG_SUBMISSION = "wrong_submission", _("The task takes another kind of submission")
    UNKNOWN_TASK = "unknown_task", _("No such task")
    NOT_YOURS = "not_yours", _("The task is held by someone else")
    TASK_SKIPPED = "task_skipped", _("The task was skipped")
    SLOT_TAKEN = "slot_taken", _("Every slot for the item is taken")
    TASK_CHANGED = "task_changed", _("The task changed since it was shown")
    TASK_EXPIRED = "task_expired", _("The task's lock ran out and it went back to the queue")
    # dataset exports (labeling.services.exports)
    EXPORT_NOT_ALLOWED = "export_not_allowed", _("The export cannot do that in its state")
    # prompt imports (labeling.services.prompt_import)
    IMPORT_INVALID_ROWS = "import_invalid_rows", _("The file has invalid rows")
    # model versions (training.services.versions)
    PUBLISH_FAILED = "publish_failed", _("The version could not be made live")
    ROLLBACK_NOT_ALLOWED = "rollback_not_allowed", _("The version cannot be rolled back to")
    NOT_SERVABLE = "not_servable", _("The version is no model the servers can serve")
    # model-server agents (serving.api)
    AGENTS_DISABLED = "agents_disabled", _("No agent is let in: SERVING_AGENT_TOKEN is not set")
    AGENT_TOKEN_INVALID = "agent_token_invalid", _("The agent's token is missing or wrong")
    ADAPTER_NOT_SERVED = "adapter_not_served", _("No adapter of that name is to be served")
    UNKNOWN_SERVER = "unknown_server", _("The server is not one of VLLM_URLS")


class Refusal(Exception):
    """A request a service will not carry out; `message` is for the person who asked.

    `message` may be a lazy translation, rendered in the language of the request that shows
    it. Subclasses set `default_code`, or pass `code=` where one class has several reasons.
    """

    default_code: RefusalCode
    http_status = 409  # a conflict with the object's state; a refusal of the input says 400

    def __init__(self, message: str, *, code: RefusalCode | None = None):
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code

    def details(self) -> dict:
        """Fields the API answers beside `detail` and `code` (a rejected file's rows)."""
        return {}
