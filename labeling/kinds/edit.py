"""Edit: one of the live version's completions, fixed by the annotator into the ideal answer.

The demonstration keeps the completion as its source_completion: the preference edited over
original is derived from that (labeling.exports), never stored. An unchanged text is refused.
"""

from django.utils.translation import gettext_lazy as _

from labeling.forms.workspace import EditForm
from labeling.kinds.base import TEMPLATES, DemonstrationKind, Shows
from labeling.models import Demonstration, TaskKind

KIND = DemonstrationKind(
    value=TaskKind.EDIT,
    badge=_("Edit"),
    shows=Shows.ONE,
    form=EditForm,
    template=TEMPLATES + "edit.html",
    origin=Demonstration.Origin.EDITED,
    revises_completion=True,
)
