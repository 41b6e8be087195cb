"""Write: the annotator writes an instruction (with optional input and category) and the
ideal answer; the instruction becomes a new prompt of source "written".

Nothing is queued: every write task is a new one, and it needs no model, so it is what
annotators get while the model server is down.
"""

from django.utils.translation import gettext_lazy as _

from labeling.forms.workspace import WriteForm
from labeling.kinds.base import TEMPLATES, DemonstrationKind, Shows
from labeling.models import Demonstration, TaskKind

KIND = DemonstrationKind(
    value=TaskKind.WRITE,
    badge=_("Write"),
    shows=Shows.NOTHING,
    form=WriteForm,
    template=TEMPLATES + "write.html",
    queued=False,
    activity="writing",
    origin=Demonstration.Origin.WRITTEN,
    writes_prompt=True,
)
