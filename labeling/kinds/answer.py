"""Answer: the annotator writes the ideal answer to one of the project's prompts.

Queued from the prompts (one item per prompt); an annotator who already demonstrated a
prompt (they wrote it, or answered it) does not get it again. Needs no model.
"""

from django.utils.translation import gettext_lazy as _

from labeling.forms.workspace import AnswerForm
from labeling.kinds.base import TEMPLATES, DemonstrationKind, Shows
from labeling.models import Demonstration, TaskKind

KIND = DemonstrationKind(
    value=TaskKind.ANSWER,
    badge=_("Answer"),
    shows=Shows.NOTHING,
    form=AnswerForm,
    template=TEMPLATES + "answer.html",
    activity="answering",
    origin=Demonstration.Origin.ANSWERED,
    skip_if_demonstrated=True,
)
