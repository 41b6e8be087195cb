"""Many chat requests in flight at once (Django-free).

vLLM batches the sequences of concurrent requests together; on a CPU the throughput grows
with the number of sequences in flight, so pre-generation sends its requests side by side
instead of one after another (see bench/generation.py for the figures).
"""

import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from serving.vllm.client import ChatResult, Choice, Sampling, ServerUnavailable

MAX_IN_FLIGHT = 16


@dataclass(frozen=True)
class ChatJob:
    key: Hashable  # the caller's handle, e.g. (prompt id, model version id)
    model: str
    messages: list[dict]
    sampling: Sampling


@dataclass(frozen=True)
class ChatOutcome:
    job: ChatJob
    result: ChatResult | None = None
    error: Exception | None = None


def chat_concurrently(
    chat: Callable[..., ChatResult], jobs: Sequence[ChatJob], *, max_in_flight: int = MAX_IN_FLIGHT
) -> list[ChatOutcome]:
    """Run `chat(model=, messages=, sampling=)` for every job, up to `max_in_flight` at once.

    Never raises for a failed request: each outcome carries its result or its error, in the
    order of `jobs`. Once a request finds no server, jobs not yet started are not sent.
    """
    no_server = threading.Event()

    def run(job: ChatJob) -> ChatOutcome:
        if no_server.is_set():
            return ChatOutcome(job=job, error=ServerUnavailable("not sent: no server answered"))
        try:
            return ChatOutcome(
                job=job, result=chat(model=job.model, messages=job.messages, sampling=job.sampling)
            )
        except ServerUnavailable as error:
            no_server.set()
            return ChatOutcome(job=job, error=error)
        except Exception as error:  # one odd failure must not lose the other results
            return ChatOutcome(job=job, error=error)

    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_in_flight, len(jobs)))) as executor:
        return list(executor.map(run, jobs))


def choice_completion_tokens(result: ChatResult, choice: Choice) -> int:
    """Tokens generated for one choice.

    Exact when the request asked for logprobs (one entry per generated token). Otherwise
    vLLM's usage only gives the request's total over all choices, and this is that total
    divided evenly (rounded up), an estimate.
    """
    if choice.logprobs is not None:
        return len(choice.logprobs)
    choices = max(1, len(result.choices))
    return -(-result.completion_tokens // choices)
