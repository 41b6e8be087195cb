"""Continue: the annotator reads a conversation and one of the model's candidate next turns,
and writes the user's next message. That makes a new, longer conversation (a new prompt whose
history is the old one plus that exchange), which the model then answers and people judge, as
Open-Assistant's message trees grow.

Queued like the judging kinds (one item per prompt, with overlap); needs the live version's
completions, since the conversation goes on from one of them.
"""

from django.utils.translation import gettext_lazy as _

from labeling.forms.workspace import ContinueForm
from labeling.kinds.base import TEMPLATES, PromptKind, Shows
from labeling.models import TaskKind

KIND = PromptKind(
    value=TaskKind.CONTINUE,
    badge=_("Continue"),
    shows=Shows.ONE,
    form=ContinueForm,
    template=TEMPLATES + "continue.html",
)
