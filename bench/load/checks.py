"""What the database holds, against what the server answered the annotators."""

import uuid
from collections import Counter
from dataclasses import dataclass

from bench.load.annotators import LoadOutcome


@dataclass(frozen=True)
class LoadVerdict:
    """The database against what the server answered."""

    stored: int  # judgements of the project in the database
    accepted: int  # judgements the server answered 201 for (distinct tasks)
    lost: int  # accepted, but not in the database as the judgement of that task
    unacknowledged: int  # in the database, but never answered 201 for
    duplicated: int  # judgements past the first by one annotator of one item
    overlap_exceeded: int  # items with more judgements than the overlap
    queue_over: int  # queue items whose taken count went past the overlap
    server_errors: int  # answers with a 5xx status
    no_answer: int  # requests with no answer at all (connection refused or dropped, timeout)
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def load_verify(*, project, outcome: LoadOutcome) -> LoadVerdict:
    """Count, from the database, what was lost, duplicated or past the overlap."""
    from labeling.models import Judgement, QueueItem

    judgements = Judgement.objects.filter(prompt__project=project)
    stored = {str(token): pk for token, pk in judgements.values_list("assignment__token", "pk")}
    accepted = {str(uuid.UUID(token)): pk for token, pk in outcome.accepted.items()}
    per_person = Counter(judgements.values_list("prompt_id", "kind", "annotator_id"))
    per_item = Counter(judgements.values_list("prompt_id", "kind"))
    figures = {
        "stored": len(stored),
        "accepted": len(accepted),
        "lost": sum(stored.get(token) != pk for token, pk in accepted.items()),
        "unacknowledged": len(stored.keys() - accepted.keys()),
        "duplicated": sum(n - 1 for n in per_person.values()) + outcome.duplicate_accepts,
        "overlap_exceeded": sum(n > project.overlap for n in per_item.values()),
        "queue_over": QueueItem.objects.filter(project=project, taken__gt=project.overlap).count(),
        "server_errors": sum(n for (_, status), n in outcome.statuses.items() if status >= 500),
        "no_answer": sum(n for (_, status), n in outcome.statuses.items() if status == 0),
    }
    problems = [f"{name}: {figures[name]}" for name in list(figures)[2:] if figures[name]]
    if len(accepted) < outcome.target:
        problems.append(f"only {len(accepted)} of {outcome.target} judgements accepted")
    problems += [f"annotator gave up: {error}" for error in outcome.errors]
    return LoadVerdict(**figures, problems=tuple(problems))
