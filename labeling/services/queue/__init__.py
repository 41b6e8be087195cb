"""The annotation queue: hand out the next task, take submissions and skips back.

How a task is found without scanning the project: every unit of work is a QueueItem (one
prompt, one kind, for kinds with completions one model version) whose `taken` counts
submitted plus active assignments. Items are created lazily, a batch at a time, from a
cursor over new prompts (answer) or new completions of the live version (rank, compare,
rate, edit), only when the open items run out for the annotator asking (feed.py). Picking is
then an index range over the few open items, with a NOT EXISTS probe on the annotator's own
assignments, and claiming is a conditional UPDATE of `taken` (handout.py).

Head to head: the compare item of a prompt in the project's compare share, made when the
version the live one replaced has completions of it too, carries that version as `versus`;
its task shows one completion of each version, on random sides (see
labeling.selectors.head_to_head). Other prompts' compare tasks show two of the live version.

Gold items (rank and compare items of prompts with a gold verdict that can score them) go
to every annotator once, past the overlap, so each annotator's gold accuracy rests on all of
them: when the project's gold share roll hits, or nothing else is open to the annotator, the
pick first looks among the gold items they never had (a range over the few gold prompts, see
labeling.selectors.queue.gold_items) and claims one without the overlap cap.

Concurrency: on PostgreSQL the candidate item is locked FOR UPDATE SKIP LOCKED, so two
annotators asking at once take different items (or different slots of one); on SQLite the
IMMEDIATE transactions of the settings admit one writer at a time. Each claim is also a
conditional UPDATE (taken < overlap), so an item never goes past its overlap either way
(gold items excepted; one assignment per annotator and item keeps those to one each).

Preloading (task_preload): while an annotator works on a task, the workspace holds the next
one off-screen, claimed for them as a second assignment in status "preloaded" (one per
annotator and project, beside their one active assignment; the same overlap rules and lock,
held longer with the active one). task_next makes it active, with a fresh lock, when the
current one is done; never shown, it is released by the expiry and counts nowhere.

Expired locks are returned lazily: each task_next first releases the project's expired
active and preloaded assignments (an index range over each status's few rows; expiry.py).

Submissions (submit.py) are checked, then done: the check validates the payload and that the
task is still the annotator's and open, and returns a typed open submission; the do step
only writes it.
"""

from labeling.services.queue.continuation import continuation_submit
from labeling.services.queue.expiry import assignments_expire
from labeling.services.queue.extend import assignment_extend
from labeling.services.queue.feed import items_feed
from labeling.services.queue.handout import rng, task_next, task_preload
from labeling.services.queue.refusals import (
    MSG_CHANGED,
    MSG_NOT_YOURS,
    MSG_SKIPPED,
    MSG_SLOT_TAKEN,
    MSG_SUBMITTED,
    MSG_TAKES_DEMONSTRATION,
    MSG_TAKES_JUDGEMENT,
    MSG_UNKNOWN,
    SubmissionRefused,
)
from labeling.services.queue.submit import (
    OpenDemonstration,
    OpenJudgement,
    demonstration_submit,
    demonstration_submit_check,
    demonstration_submit_do,
    judgement_submit,
    judgement_submit_check,
    judgement_submit_do,
    task_skip,
)

__all__ = [
    "MSG_CHANGED",
    "MSG_NOT_YOURS",
    "MSG_SKIPPED",
    "MSG_SLOT_TAKEN",
    "MSG_SUBMITTED",
    "MSG_TAKES_DEMONSTRATION",
    "MSG_TAKES_JUDGEMENT",
    "MSG_UNKNOWN",
    "OpenDemonstration",
    "OpenJudgement",
    "SubmissionRefused",
    "assignment_extend",
    "assignments_expire",
    "continuation_submit",
    "demonstration_submit",
    "demonstration_submit_check",
    "demonstration_submit_do",
    "items_feed",
    "judgement_submit",
    "judgement_submit_check",
    "judgement_submit_do",
    "rng",
    "task_next",
    "task_preload",
    "task_skip",
]
