"""Pre-generation: sample each prompt's completions before an annotator asks for them.

A refill picks the oldest prompts without completions of the live version, sends all their
requests to the model server at once (vLLM batches concurrent sequences; on a CPU that is
several times the throughput of one request at a time), then stores each prompt's
completions in its own short transaction. No transaction is open during a network call.
"""

import logging
import random
import secrets
from collections import defaultdict
from dataclasses import asdict, dataclass

from django.db import transaction

from labeling.models import Completion, Project, Prompt
from labeling.quality.uncertainty import mean_logprob
from labeling.selectors.generation import (
    buffer_target,
    buffered_prompt_count,
    prompts_needing_completions,
    uses_completions,
)
from labeling.selectors.head_to_head import in_compare_share
from labeling.services.uncertainty import uncertainty_of_completions
from serving.config import base_model_prompt_style, send_seed, server_pool, server_urls
from serving.models import ModelServer
from serving.selectors import model_servers_available, model_servers_retry_at
from serving.services import model_server_record_failure, model_server_record_ok
from serving.vllm.client import BadRequest, ChatResult, Sampling, ServerPool
from serving.vllm.concurrent_chat import (
    ChatJob,
    ChatOutcome,
    chat_concurrently,
    choice_completion_tokens,
)
from training.engine.prompts import TextTemplate, prompt_request
from training.models import ModelVersion
from training.selectors.versions import comparison_in_use, live_version

logger = logging.getLogger(__name__)

# Prompts per refill: with n=4 that is 64 sequences in flight, where batching on a CPU pays.
MAX_PROMPTS_PER_REFILL = 16
# Ask for the sampled tokens' logprobs: they count each choice's tokens exactly (vLLM's usage
# gives one total for all n choices of a request), and their spread over the n choices is the
# prompt's uncertainty (labeling.quality.uncertainty).
EXACT_TOKEN_COUNTS = True

# Prompts the server refused (HTTP 400, e.g. too long for the model), per version id: kept out
# of later refills in this worker process instead of being sent again every tick.
_refused: dict[int, set[int]] = {}
_store_order = random.Random()


@dataclass
class RefillReport:
    project_id: int
    requests: int = 0  # chat requests sent
    stored: int = 0  # completions written
    skipped: int = 0  # prompt+version pairs another worker had already filled
    refused: int = 0  # requests the server rejected as bad
    more_needed: bool = False  # the buffer is still below target after this refill
    backed_off: bool = False  # not sent: every server is down and not due for a retry
    server_down: bool = False
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def project_sampling(project: Project, *, logprobs: bool = EXACT_TOKEN_COUNTS) -> Sampling:
    return Sampling(
        n=project.completions_per_prompt,
        temperature=project.temperature,
        top_p=project.top_p,
        max_tokens=project.max_tokens,
        logprobs=logprobs,
    )


def completion_jobs(
    *,
    project: Project,
    prompts: list[Prompt],
    live: ModelVersion,
    compare: ModelVersion | None = None,
    compare_share: float = 0.0,
) -> list[ChatJob]:
    """One request of n completions per prompt and version: chat messages (the whole
    conversation, then the prompt's user turn), or for a base model without a chat template
    the project's text template (prompts.prompt_request)."""
    sampling = project_sampling(project)
    style, template = base_model_prompt_style(), TextTemplate(project.text_template)
    versions_for = {prompt.pk: [live] for prompt in prompts}
    if compare is not None and compare_share > 0:
        already = set(
            Completion.objects.filter(prompt__in=prompts, model_version=compare).values_list(
                "prompt_id", flat=True
            )
        )
        for prompt in prompts:
            if prompt.pk not in already and in_compare_share(prompt.pk, compare_share):
                versions_for[prompt.pk].append(compare)
    jobs = []
    for prompt in prompts:
        request = prompt_request(
            style,
            template,
            instruction=prompt.instruction,
            input=prompt.input,
            history=prompt.history,
        )
        for version in versions_for[prompt.pk]:
            seed = secrets.randbelow(2**31) if send_seed() else None
            jobs.append(
                ChatJob(
                    key=(prompt, version),
                    model=version.served_name,
                    messages=request.messages,
                    prompt_text=request.prompt_text,
                    sampling=Sampling(**{**asdict(sampling), "seed": seed, "stop": request.stop}),
                )
            )
    return jobs


@transaction.atomic
def completions_store(
    *, prompt: Prompt, version: ModelVersion, sampling: Sampling, result: ChatResult
) -> int:
    """Write one request's completions, and how much their log-probabilities spread (the
    prompt's uncertainty); 0 if this prompt already has some of this version."""
    # Locking the prompt row makes a second worker with the same prompt wait, then skip.
    Prompt.objects.select_for_update().filter(pk=prompt.pk).first()
    if Completion.objects.filter(prompt=prompt, model_version=version).exists():
        return 0
    sampling_params = {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
    }
    completions = [
        Completion(
            prompt=prompt,
            model_version=version,
            text=choice.text,
            request_id=result.request_id[:64],
            index=choice.index,
            sampling_params=sampling_params,
            seed=result.seed,
            finish_reason=choice.finish_reason or "",
            prompt_tokens=result.prompt_tokens,  # the request's prompt, shared by its choices
            completion_tokens=choice_completion_tokens(result, choice),
            latency_ms=result.latency_ms,  # the whole request's, shared by its choices
            mean_logprob=mean_logprob(choice.logprobs),
        )
        for choice in result.choices
    ]
    Completion.objects.bulk_create(completions)
    uncertainty_of_completions(
        prompt_id=prompt.pk,
        version_id=version.pk,
        mean_logprobs=[completion.mean_logprob for completion in completions],
    )
    return len(completions)


def completions_refill(
    *, project: Project, max_prompts: int = MAX_PROMPTS_PER_REFILL
) -> RefillReport:
    """Top the project's buffer of ready prompts up to its target; the project's compare
    share of them also gets completions of the version the live one replaced. Never raises
    for a server that is down: the failure is recorded on ModelServer and the report says so."""
    report = RefillReport(project_id=project.pk)
    live = live_version(project)
    if live is None or not uses_completions(project):
        return report
    urls = server_urls()
    if model_servers_retry_at(urls=urls) is not None:
        report.backed_off = report.server_down = True
        return report
    need = buffer_target(project) - buffered_prompt_count(project, version=live)
    prompts = prompts_needing_completions(
        project, min(need, max_prompts), version=live, exclude_ids=_refused.get(live.pk, ())
    )
    if not prompts:
        return report
    jobs = completion_jobs(
        project=project,
        prompts=prompts,
        live=live,
        compare=comparison_in_use(project, live=live),
        compare_share=project.compare_share,
    )
    pool = server_pool()
    try:
        if not model_servers_available(urls=urls) and not model_servers_probe(pool=pool):
            report.server_down = True  # still down at its retry time: send nothing
            return report
        outcomes = chat_concurrently(pool, jobs)
        report.requests = len(jobs)
        _servers_record(pool=pool, urls=urls, outcomes=outcomes, report=report)
    finally:
        _pool_close(pool)
    _outcomes_store(outcomes, report=report)
    report.more_needed = need > len(prompts) and report.stored > 0
    return report


def _outcomes_store(outcomes: list[ChatOutcome], *, report: RefillReport) -> None:
    """Store each prompt's completions of all its versions in one transaction, so the queue
    never sees a head-to-head prompt with the live side only. The versions go in random
    order: completion ids must not tell an annotator which side is the new version."""
    by_prompt: dict[int, list[ChatOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_prompt[outcome.job.key[0].pk].append(outcome)
    for prompt_outcomes in by_prompt.values():
        _store_order.shuffle(prompt_outcomes)
        with transaction.atomic():
            for outcome in prompt_outcomes:
                _outcome_store(outcome, report=report)


def _outcome_store(outcome: ChatOutcome, *, report: RefillReport) -> None:
    prompt, version = outcome.job.key
    if outcome.result is not None:
        written = completions_store(
            prompt=prompt, version=version, sampling=outcome.job.sampling, result=outcome.result
        )
        report.stored += written
        if written == 0:
            report.skipped += 1
    elif isinstance(outcome.error, BadRequest):
        report.refused += 1
        report.error = report.error or _error_text(outcome.error)
        # 400: this prompt cannot be served (too long ...). Other 4xx, such as 404 for an
        # adapter not loaded yet, say nothing against the prompt: it is tried again.
        if outcome.error.status_code == 400 and version.status == ModelVersion.Status.LIVE:
            _refused.setdefault(version.pk, set()).add(prompt.pk)
        logger.warning("%s refused prompt %s: %s", version.served_name, prompt.pk, outcome.error)


def _servers_record(
    *, pool: ServerPool, urls: list[str], outcomes: list[ChatOutcome], report: RefillReport
) -> None:
    """Record each server up or down after a round of requests.

    A server counts as down when its health check fails, or when it answers the check but
    not one request of the round was served (an engine that died behind a live API).
    """
    server_errors = [
        outcome.error
        for outcome in outcomes
        if outcome.error is not None and not isinstance(outcome.error, BadRequest)
    ]
    served_any = any(outcome.result is not None for outcome in outcomes)
    health = _health(pool, urls)
    for url in urls:
        if health.get(url) and (served_any or not server_errors):
            model_server_record_ok(url=url)
        else:
            error = _error_text(server_errors[0]) if server_errors else "health check failed"
            model_server_record_failure(url=url, error=error)
    if server_errors:
        report.error = _error_text(server_errors[0])
        report.server_down = not served_any
        logger.warning("%d requests failed: %s", len(server_errors), report.error)


def model_servers_probe(*, pool: ServerPool | None = None) -> bool:
    """Check every configured server's health and record it; True if any is up."""
    urls = server_urls()
    own_pool = pool is None
    pool = pool or server_pool()
    try:
        health = _health(pool, urls)
    finally:
        if own_pool:
            _pool_close(pool)
    for url in urls:
        if health.get(url):
            model_server_record_ok(url=url)
        else:
            last = ModelServer.objects.filter(url=url).values_list("last_error", flat=True).first()
            model_server_record_failure(url=url, error=last or "health check failed")
    return any(health.get(url) for url in urls)


def _health(pool: ServerPool, urls: list[str]) -> dict[str, bool]:
    """{configured url: healthy}; the pool names servers without a trailing slash."""
    try:
        health = {url.rstrip("/"): bool(ok) for url, ok in pool.health().items()}
    except Exception:  # a health check that itself fails says the server is down
        logger.exception("health check failed")
        health = {}
    return {url: health.get(url.rstrip("/"), False) for url in urls}


def _pool_close(pool: ServerPool) -> None:
    try:
        pool.close()
    except Exception:
        logger.debug("closing the server pool failed", exc_info=True)


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
