from labeling.models.assignment import Assignment
from labeling.models.completion import Completion
from labeling.models.demonstration import Demonstration
from labeling.models.document import Document
from labeling.models.draft import DraftingJob, DraftPrompt
from labeling.models.export import DatasetExport
from labeling.models.judgement import Judgement
from labeling.models.project import Membership, Project, PromptSelection, Role, TaskKind
from labeling.models.prompt import Prompt
from labeling.models.queue import QueueCursor, QueueItem
from labeling.models.uncertainty import PromptUncertainty, VotesCursor

__all__ = [
    "Assignment",
    "Completion",
    "DatasetExport",
    "Demonstration",
    "Document",
    "DraftPrompt",
    "DraftingJob",
    "Judgement",
    "Membership",
    "Project",
    "Prompt",
    "PromptSelection",
    "PromptUncertainty",
    "QueueCursor",
    "QueueItem",
    "Role",
    "TaskKind",
    "VotesCursor",
]
