from labeling.models.completion import Completion
from labeling.models.demonstration import Demonstration
from labeling.models.project import Membership, Project, Role, TaskKind
from labeling.models.prompt import Prompt

__all__ = ["Completion", "Demonstration", "Membership", "Project", "Prompt", "Role", "TaskKind"]
