"""Labeling's admin, one module per aggregate; importing them registers their classes.

Actions that start training ("Start training run…", "Train on this export…") are listed on
the labeling classes they act on and hand over to training's admin by URL name
(labeling.admin.training_actions), so labeling imports nothing of training's services.
"""

from labeling.admin import (  # noqa: F401  (registration)
    assignments,
    completions,
    demonstrations,
    documents,
    drafts,
    exports,
    judgements,
    projects,
    prompts,
)
