"""The model drafts, people decide: drafting jobs (instructions Self-Instruct style, answers to
edit) and the review that turns an accepted draft into a prompt.

Instructions: few-shot requests built from the project's prompts, per category and language;
the proposals are parsed, and those repeating a prompt or an earlier draft (the export's
MinHash dedupe, then ROUGE-L >= 0.7 as Self-Instruct does) are dropped before anyone sees
them. They are stored as DraftPrompt, outside the queue, generation and exports, until a
person accepts one. Answers: n completions of the drafting model for prompts without a
demonstration, stored as the live version's completions (the edit task shows one).

Network calls happen between short transactions, never inside one. A drafting server that
does not answer puts the job in "waiting" and enqueues it again with backoff.
"""

from __future__ import annotations

import logging
import math
import random
import re
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rouge_score import rouge_scorer

from labeling.access import role_in
from labeling.exports.dedupe import Deduplicator, normalized
from labeling.models import Completion, DraftingJob, DraftPrompt, Project, Prompt
from labeling.provenance import edit_distance
from labeling.services.generation import completions_store
from labeling.services.prompts import prompt_create
from serving.config import (
    CHAT_TIMEOUT_SECONDS,
    base_model_prompt_style,
    server_pool,
    server_urls,
)
from serving.selectors import model_servers_retry_at
from serving.vllm.client import BadRequest, Sampling, ServerPool
from serving.vllm.concurrent_chat import ChatJob, ChatOutcome, chat_concurrently
from training.engine.prompts import CHAT, TextTemplate, prompt_request
from training.selectors.versions import live_version

logger = logging.getLogger(__name__)

FEW_SHOT = 3  # example prompts per request, sampled anew for each
PER_REQUEST = 4  # new instructions asked for in one request
TOKENS_PER_TASK = 40  # an instruction and a short input
MAX_IN_FLIGHT = 8  # requests of one round
MAX_PROPOSAL_CHARS = 600
MIN_PROPOSAL_CHARS = 10
ROUGE_L_MAX = 0.7  # Self-Instruct keeps an instruction only below this against every other
MAX_COUNT = 1000
# A server that does not answer: wait 5 s, 10 s, ... up to 5 minutes, then give up.
RETRY_FIRST_S = 5
RETRY_MAX_S = 300
MAX_WAITS = 8
# Inputs: a category needs one when at least this share of its prompts has one.
INPUT_SHARE = 0.5

_sample = random.Random()


# --- the drafting server ---------------------------------------------------------------------


@dataclass(frozen=True)
class Drafter:
    """Who drafts for a project: a server pool, the model name it serves, and a label of the
    version (the live version's name, or the drafting server's address)."""

    pool: ServerPool
    model: str
    version: str
    style: str  # chat or text, as prompts.prompt_request takes it
    url: str


def drafter_for(project: Project) -> Drafter:
    """The project's own drafting server when it names one, else the served model."""
    live = live_version(project)
    if project.drafting_url:
        url = project.drafting_url.rstrip("/")
        model = project.drafting_model or (live.served_name if live else "")
        pool = ServerPool([url], send_seed=False, timeout=CHAT_TIMEOUT_SECONDS, retries=1)
        return Drafter(pool=pool, model=model, version=f"{model} at {url}", style=CHAT, url=url)
    if live is None:
        raise ValidationError(gettext("The project has no live model version to draft with."))
    pool = server_pool()
    urls = ", ".join(client.base_url for client in pool.clients)
    return Drafter(
        pool=pool,
        model=live.served_name,
        version=live.served_name,
        style=base_model_prompt_style(),
        url=urls,
    )


# --- jobs --------------------------------------------------------------------------------------


@transaction.atomic
def drafting_job_create(
    *,
    project: Project,
    kind: str = DraftingJob.Kind.INSTRUCTIONS,
    count: int,
    categories: list[str] | None = None,
    temperature: float = 0.9,
    created_by=None,
) -> DraftingJob:
    """A checked drafting request, enqueued for the worker once this transaction commits."""
    if kind not in DraftingJob.Kind.values:
        raise ValidationError({"kind": gettext("Draft instructions or answers.")})
    if not 1 <= count <= MAX_COUNT:
        raise ValidationError(
            {"count": gettext("Ask for 1 to %(max)s drafts.") % {"max": MAX_COUNT}}
        )
    if not 0.05 <= temperature <= 2.0:
        # n > 1 with temperature 0 is refused by vLLM; drafts want variety anyway.
        raise ValidationError({"temperature": gettext("A temperature from 0.05 to 2.")})
    if kind == DraftingJob.Kind.INSTRUCTIONS and not _examples(project).exists():
        message = gettext("Drafting instructions needs a few of the project's prompts as examples.")
        raise ValidationError({"count": message})
    job = DraftingJob(
        project=project,
        kind=kind,
        count=count,
        categories=sorted({c.strip() for c in categories or [] if c.strip()}),
        temperature=temperature,
        created_by=created_by,
    )
    job.full_clean()
    job.save()
    drafting_job_enqueue(job=job)
    return job


def drafting_job_enqueue(*, job: DraftingJob, delay_s: float = 0) -> None:
    from labeling.tasks import drafting_job_task

    def enqueue() -> None:
        task = drafting_job_task
        if delay_s:
            task = task.using(run_after=timezone.now() + timedelta(seconds=delay_s))
        task.enqueue(job.pk)

    transaction.on_commit(enqueue)


@dataclass
class RoundReport:
    requests: int = 0
    stored: int = 0
    dropped: int = 0
    refused: int = 0
    unanswered: bool = False  # not one request was answered: the server is down
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def drafting_job_run(*, job: DraftingJob) -> DraftingJob:
    """Draft until the job has its count (or stops finding new drafts); a server that does
    not answer leaves the job waiting and enqueued again, with backoff."""
    if job.status in (DraftingJob.Status.DONE, DraftingJob.Status.FAILED):
        return job
    _job_update(job, status=DraftingJob.Status.RUNNING, started_at=job.started_at or timezone.now())
    try:
        drafter = drafter_for(job.project)
    except ValidationError as error:
        return _job_finish(job, status=DraftingJob.Status.FAILED, message=" ".join(error.messages))
    _job_update(job, model_name=drafter.version)
    if not job.project.drafting_url and model_servers_retry_at(urls=server_urls()) is not None:
        drafter.pool.close()  # the served model is down and not due for a retry: send nothing
        return _job_wait(job, drafter=drafter, error=gettext("the model server is down"))
    run_round = _instructions_round if job.kind == DraftingJob.Kind.INSTRUCTIONS else _answers_round
    rounds = 2 * math.ceil(job.count / PER_REQUEST) + 2
    empty_rounds = 0
    try:
        for _round in range(rounds):
            left = job.count - job.drafted
            if left <= 0:
                break
            report = run_round(job=job, drafter=drafter, left=left)
            if report.unanswered:
                return _job_wait(job, drafter=drafter, error=report.error)
            job.refresh_from_db()
            if report.stored == 0:
                empty_rounds += 1
                if empty_rounds >= 3 or job.kind == DraftingJob.Kind.ANSWERS:
                    break
    finally:
        try:
            drafter.pool.close()
        except Exception:  # closing is best effort
            logger.debug("closing the drafting pool failed", exc_info=True)
    message = gettext("%(drafted)s of %(count)s drafted, %(dropped)s near-duplicates dropped.") % {
        "drafted": job.drafted,
        "count": job.count,
        "dropped": job.dropped,
    }
    return _job_finish(job, status=DraftingJob.Status.DONE, message=message)


def _job_wait(job: DraftingJob, *, drafter: Drafter, error: str) -> DraftingJob:
    attempts = job.attempts + 1
    if attempts > MAX_WAITS:
        message = gettext(
            "The drafting server %(url)s did not answer after %(n)s tries: %(error)s"
        ) % {"url": drafter.url, "n": MAX_WAITS, "error": error}
        return _job_finish(
            job, status=DraftingJob.Status.FAILED, message=message, attempts=attempts
        )
    delay = min(RETRY_FIRST_S * 2 ** (attempts - 1), RETRY_MAX_S)
    message = gettext(
        "The drafting server %(url)s did not answer (%(error)s). Trying again in %(delay)s s "
        "(try %(n)s of %(max)s); annotators keep their other work meanwhile."
    ) % {"url": drafter.url, "error": error, "delay": delay, "n": attempts, "max": MAX_WAITS}
    with transaction.atomic():
        _job_update(job, status=DraftingJob.Status.WAITING, attempts=attempts, message=message)
        drafting_job_enqueue(job=job, delay_s=delay)
    return job


def _job_update(job: DraftingJob, **fields) -> None:
    DraftingJob.objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


def _job_finish(job: DraftingJob, *, status: str, message: str, **fields) -> DraftingJob:
    _job_update(job, status=status, message=message, finished_at=timezone.now(), **fields)
    return job


def _send(drafter: Drafter, jobs: list[ChatJob], report: RoundReport) -> list[ChatOutcome]:
    outcomes = chat_concurrently(drafter.pool, jobs)
    report.requests = len(jobs)
    errors = [o.error for o in outcomes if o.error is not None]
    report.refused = sum(isinstance(error, BadRequest) for error in errors)
    if errors:
        report.error = f"{type(errors[0]).__name__}: {errors[0]}"
        logger.warning("%d drafting requests failed: %s", len(errors), report.error)
    answered = any(o.result is not None for o in outcomes)
    report.unanswered = not answered and any(not isinstance(e, BadRequest) for e in errors)
    return outcomes


# --- drafting instructions -------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    instruction: str
    input: str
    category: str
    language: str


@dataclass(frozen=True)
class Slot:
    """What one request asks for: a category and language, and its few-shot examples."""

    category: str
    language: str
    needs_input: bool
    examples: list[tuple[str, str]]  # (instruction, input)


def _examples(project: Project):
    """Prompts that may serve as examples: the project's single-turn prompts."""
    return Prompt.objects.filter(project=project, history=[])


def drafting_slots(*, project: Project, categories: list[str], requests: int) -> list[Slot]:
    """`requests` slots spread over the categories (and, within one, its languages), each with
    up to FEW_SHOT examples sampled from that category and language (else from any prompt)."""
    rows = list(_examples(project).values_list("instruction", "input", "category", "language"))
    by_pair: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for instruction, input_, category, language in rows:
        by_pair.setdefault((category, language), []).append((instruction, input_))
    pairs = sorted(pair for pair in by_pair if not categories or pair[0] in categories)
    if not pairs:  # categories nobody wrote in yet: examples from everywhere
        languages = sorted({language for _, _, _, language in rows}) or [""]
        pairs = [(category, languages[0]) for category in categories] or [("", languages[0])]
    everything = [(instruction, input_) for instruction, input_, _, _ in rows]
    slots = []
    for index in range(requests):
        category, language = pairs[index % len(pairs)]
        pool = by_pair.get((category, language)) or everything
        examples = _sample.sample(pool, min(FEW_SHOT, len(pool)))
        with_input = sum(bool(input_) for _, input_ in pool)
        slots.append(
            Slot(category, language, bool(pool) and with_input / len(pool) >= INPUT_SHARE, examples)
        )
    return slots


def drafting_messages(slot: Slot, *, wanted: int) -> list[dict]:
    """A Self-Instruct request: numbered example tasks, then the model continues the list."""
    lines = [
        "You write new tasks for an instruction-following assistant. Here are some tasks"
        + (f" of the category “{slot.category}”" if slot.category else "")
        + (f", in the language {slot.language}" if slot.language else "")
        + ":",
        "",
    ]
    for number, (instruction, input_) in enumerate(slot.examples, start=1):
        lines.append(f"Task {number}: {instruction.strip()}")
        if input_.strip():
            lines.append(f"Input: {input_.strip()}")
        lines.append("")
    first = len(slot.examples) + 1
    lines.append(
        f"Write {wanted} new tasks, different from these, numbered from Task {first}."
        + (
            " Give each an “Input:” line with the text it works on."
            if slot.needs_input
            else " Add an “Input:” line only where the task needs one."
        )
    )
    return [{"role": "user", "content": "\n".join(lines)}]


_TASK_LINE = re.compile(
    r"^(?:[#*\-\s]*)(?:task\s*)?\d{1,3}\s*[:.)]\s*(?:instruction\s*:\s*)?(.*)$", re.I
)
_INPUT_LINE = re.compile(r"^(?:[*\s]*)(?:input|context)\s*[:\uff1a]\s*(.*)$", re.I)
_EMPTY_INPUTS = {"", "none", "n/a", "<noinput>", "no input", "-"}


def proposals_parse(text: str, *, category: str, language: str) -> list[Proposal]:
    """The tasks in a model's answer: "Task N: ..." or "N. ..." lines, each with an optional
    "Input: ..." line; continuation lines join the part they follow. An answer without any
    numbered line is one proposal, when it is short enough to be an instruction."""
    items: list[list[list[str]]] = []  # [instruction lines, input lines]
    for raw in text.splitlines():
        line = raw.strip().strip("*").strip()
        if not line:
            continue
        if (match := _INPUT_LINE.match(line)) and items:
            items[-1][1].append(match.group(1))
        elif match := _TASK_LINE.match(line):
            items.append([[match.group(1)], []])
        elif items:
            items[-1][1 if items[-1][1] else 0].append(line)
    if not items and text.strip():
        items = [[[text.strip()], []]]
    proposals = []
    for instruction_lines, input_lines in items:
        instruction = " ".join(part.strip() for part in instruction_lines).strip().strip('*"“”')
        input_ = "\n".join(input_lines).strip()
        if input_.casefold() in _EMPTY_INPUTS:
            input_ = ""
        if MIN_PROPOSAL_CHARS <= len(instruction) <= MAX_PROPOSAL_CHARS:
            proposals.append(Proposal(instruction, input_[:MAX_PROPOSAL_CHARS], category, language))
    return proposals


class _Words:
    """ROUGE's tokens for any script: casefolded words split on spaces (rouge-score's own
    tokenizer keeps only a-z and 0-9, which would leave a Korean instruction empty); cached,
    since every proposal is scored against every prompt."""

    def __init__(self):
        self._cache: dict[str, list[str]] = {}

    def tokenize(self, text: str) -> list[str]:
        tokens = self._cache.get(text)
        if tokens is None:
            tokens = re.findall(r"\w+", normalized(text))
            self._cache[text] = tokens
        return tokens


class DraftFilter:
    """Keeps a proposal only if it repeats no prompt and no earlier draft: not exactly or
    nearly by MinHash (labeling.exports.dedupe, over instruction and input), and with ROUGE-L
    below ROUGE_L_MAX against every instruction seen."""

    def __init__(self, known: list[tuple[str, str]]):
        self._dedupe = Deduplicator(near=True)
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Words())
        self._instructions: list[str] = []
        for instruction, input_ in known:
            self._dedupe.seen(_text(instruction, input_))
            self._instructions.append(instruction)

    def keep(self, instruction: str, input: str = "") -> bool:
        if self._dedupe.seen(_text(instruction, input)):
            return False
        if any(
            self._scorer.score(other, instruction)["rougeL"].fmeasure >= ROUGE_L_MAX
            for other in self._instructions
        ):
            return False
        self._instructions.append(instruction)
        return True


def _text(instruction: str, input: str) -> str:
    return f"{instruction}\n\n{input}" if input else instruction


def draft_filter_for(project: Project) -> DraftFilter:
    """A filter that knows the project's prompts and its drafts not rejected."""
    known = list(Prompt.objects.filter(project=project).values_list("instruction", "input"))
    known += (
        DraftPrompt.objects.filter(project=project)
        .exclude(status=DraftPrompt.Status.REJECTED)
        .values_list("instruction", "input")
    )
    return DraftFilter(known)


def proposals_keep(*, project: Project, proposals: list[Proposal]) -> tuple[list[Proposal], int]:
    """The proposals no prompt or draft of the project repeats (nor an earlier proposal), and
    how many were dropped."""
    draft_filter = draft_filter_for(project)
    kept = [p for p in proposals if draft_filter.keep(p.instruction, p.input)]
    return kept, len(proposals) - len(kept)


def _instructions_round(*, job: DraftingJob, drafter: Drafter, left: int) -> RoundReport:
    report = RoundReport()
    # Two requests at least: one answer may hold nothing usable (a single cut-off ramble).
    requests = min(max(2, math.ceil(left / PER_REQUEST)), MAX_IN_FLIGHT)
    slots = drafting_slots(project=job.project, categories=job.categories, requests=requests)
    sampling = Sampling(
        n=1, temperature=job.temperature, top_p=0.95, max_tokens=_draft_tokens(job.project)
    )
    jobs = [
        ChatJob(
            key=slot,
            model=drafter.model,
            messages=drafting_messages(slot, wanted=PER_REQUEST),
            sampling=sampling,
        )
        for slot in slots
    ]
    outcomes = _send(drafter, jobs, report)
    if report.unanswered:
        return report
    proposals = []
    for outcome in outcomes:
        for choice in outcome.result.choices if outcome.result is not None else ():
            slot = outcome.job.key
            parsed = proposals_parse(choice.text, category=slot.category, language=slot.language)
            if choice.finish_reason == "length":
                parsed = parsed[:-1]  # cut off at max_tokens: the last task is unfinished
            proposals += parsed
    kept, report.dropped = proposals_keep(project=job.project, proposals=proposals)
    kept = kept[:left]
    with transaction.atomic():
        DraftPrompt.objects.bulk_create(
            DraftPrompt(
                project=job.project,
                job=job,
                instruction=proposal.instruction,
                input=proposal.input,
                category=proposal.category,
                language=proposal.language,
                drafted_by=drafter.model,
                drafted_version=drafter.version,
            )
            for proposal in kept
        )
        report.stored = len(kept)
        DraftingJob.objects.filter(pk=job.pk).update(
            drafted=F("drafted") + report.stored,
            dropped=F("dropped") + report.dropped,
            requests=F("requests") + report.requests,
            attempts=0,
        )
    return report


def _draft_tokens(project: Project) -> int:
    """Room for PER_REQUEST short tasks (the project's max_tokens is for answers)."""
    return TOKENS_PER_TASK * PER_REQUEST


# --- drafting answers ------------------------------------------------------------------------


def prompts_to_answer(*, project: Project, limit: int) -> list[Prompt]:
    """Prompts with no demonstration and no completion of the live version yet, oldest first."""
    live = live_version(project)
    if live is None:
        return []
    return list(
        Prompt.objects.filter(project=project, demonstrations__isnull=True)
        .exclude(completions__model_version=live)
        .order_by("pk")
        .distinct()[:limit]
    )


def _answers_round(*, job: DraftingJob, drafter: Drafter, left: int) -> RoundReport:
    """n drafted answers for each of up to `left` prompts (n: the project's completions per
    prompt, which the edit task waits for), stored as the live version's completions."""
    report = RoundReport()
    project = job.project
    live = live_version(project)
    prompts = prompts_to_answer(project=project, limit=min(left, MAX_IN_FLIGHT))
    if live is None or not prompts:
        return report
    sampling = Sampling(
        n=project.completions_per_prompt,
        temperature=job.temperature,
        top_p=project.top_p,
        max_tokens=project.max_tokens,
    )
    template = TextTemplate(project.text_template)
    jobs = []
    for prompt in prompts:
        request = prompt_request(
            drafter.style,
            template,
            instruction=prompt.instruction,
            input=prompt.input,
            history=prompt.history,
        )
        jobs.append(
            ChatJob(
                key=prompt,
                model=drafter.model,
                messages=request.messages,
                prompt_text=request.prompt_text,
                sampling=Sampling(**{**asdict(sampling), "stop": request.stop}),
            )
        )
    outcomes = _send(drafter, jobs, report)
    for outcome in outcomes:
        if outcome.result is None:
            continue
        with transaction.atomic():
            written = completions_store(
                prompt=outcome.job.key, version=live, sampling=sampling, result=outcome.result
            )
            if written:
                Completion.objects.filter(
                    prompt=outcome.job.key, model_version=live, drafted_by=""
                ).update(drafted_by=drafter.model)
                report.stored += 1
    DraftingJob.objects.filter(pk=job.pk).update(
        drafted=F("drafted") + report.stored, requests=F("requests") + report.requests, attempts=0
    )
    return report


# --- review ----------------------------------------------------------------------------------

REVIEW_KEYS = {
    "1": DraftPrompt.RejectReason.UNCLEAR,
    "2": DraftPrompt.RejectReason.UNSAFE,
    "3": DraftPrompt.RejectReason.DUPLICATE,
    "4": DraftPrompt.RejectReason.OUT_OF_SCOPE,
}


class DraftDecision:
    ACCEPT = "accept"
    EDIT = "edit"
    REJECT = "reject"
    CHOICES = (ACCEPT, EDIT, REJECT)


ALREADY_REVIEWED = _("Someone reviewed this draft already; here is the next one.")


@transaction.atomic
def draft_review(
    *,
    draft: DraftPrompt,
    reviewer,
    decision: str,
    instruction: str | None = None,
    input: str | None = None,
    reason: str = "",
) -> DraftPrompt:
    """Accept a draft (it becomes a prompt, source "drafted", with its provenance), accept it
    edited (the changed text, and how many characters changed), or reject it with a reason.
    Any member of the project may review; a draft is decided once."""
    if role_in(user=reviewer, project=draft.project) is None:
        raise PermissionDenied
    current = DraftPrompt.objects.select_for_update().get(pk=draft.pk)
    if current.status != DraftPrompt.Status.PENDING:
        raise ValidationError({"draft": ALREADY_REVIEWED})
    if decision not in DraftDecision.CHOICES:
        raise ValidationError({"decision": gettext("Accept, edit or reject.")})
    current.reviewer, current.reviewed_at = reviewer, timezone.now()
    if decision == DraftDecision.REJECT:
        if reason not in DraftPrompt.RejectReason.values:
            raise ValidationError({"reason": gettext("Choose why it is rejected.")})
        current.status, current.reject_reason = DraftPrompt.Status.REJECTED, reason
        current.save(update_fields=["status", "reject_reason", "reviewer", "reviewed_at"])
        return current
    new_instruction, new_input = current.instruction, current.input
    if decision == DraftDecision.EDIT:
        new_instruction = (instruction if instruction is not None else new_instruction).strip()
        new_input = (input if input is not None else new_input).strip()
        if not new_instruction:
            raise ValidationError({"instruction": gettext("The instruction cannot be empty.")})
    distance = edit_distance(current.instruction, new_instruction) + edit_distance(
        current.input, new_input
    )
    current.prompt = prompt_create(
        project=current.project,
        instruction=new_instruction,
        input=new_input,
        category=current.category,
        language=current.language,
        source="drafted",
        drafted_by=current.drafted_version or current.drafted_by,
        draft_edit_distance=distance,
    )
    current.status = DraftPrompt.Status.EDITED if distance else DraftPrompt.Status.ACCEPTED
    current.edit_distance = distance  # the draft keeps the model's text; the prompt, the edit
    current.save(update_fields=["status", "reviewer", "reviewed_at", "edit_distance", "prompt"])
    return current
