"""Many generation requests in flight at once (Django-free): chat requests, and plain-text
completions for base models without a chat template.

vLLM batches the sequences of concurrent requests together; on a CPU the throughput grows
with the number of sequences in flight, so pre-generation sends its requests side by side
instead of one after another (see bench/generation.py for the figures).
"""

import threading
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from serving.vllm.client import ChatResult, Choice, Sampling, ServerUnavailable

MAX_IN_FLIGHT = 16


class GenerationServer(Protocol):
    """What answers the jobs: a VLLMClient, or a ServerPool over several."""

    def chat(self, *, model: str, messages: list[dict], sampling: Sampling) -> ChatResult: ...

    def complete(self, *, model: str, prompt: str, sampling: Sampling) -> ChatResult: ...


@dataclass(frozen=True, kw_only=True)
class ChatJob:
    """One request: chat `messages`, or the `prompt_text` a base model continues."""

    key: Hashable  # the caller's handle, e.g. (prompt id, model version id)
    model: str
    sampling: Sampling
    messages: list[dict] | None = None
    prompt_text: str | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt_text is None):
            raise ValueError("a ChatJob takes either messages or prompt_text")

    def send(self, server: GenerationServer) -> ChatResult:
        if self.prompt_text is not None:
            return server.complete(
                model=self.model, prompt=self.prompt_text, sampling=self.sampling
            )
        return server.chat(model=self.model, messages=self.messages, sampling=self.sampling)


@dataclass(frozen=True)
class ChatOutcome:
    job: ChatJob
    result: ChatResult | None = None
    error: Exception | None = None


def chat_concurrently(
    server: GenerationServer, jobs: Sequence[ChatJob], *, max_in_flight: int = MAX_IN_FLIGHT
) -> list[ChatOutcome]:
    """Send every job to `server` (its chat or its plain completion), up to `max_in_flight` at
    once.

    Never raises for a failed request: each outcome carries its result or its error, in the
    order of `jobs`. Once a request finds no server, jobs not yet started are not sent.
    """
    no_server = threading.Event()

    def run(job: ChatJob) -> ChatOutcome:
        if no_server.is_set():
            return ChatOutcome(job=job, error=ServerUnavailable("not sent: no server answered"))
        try:
            return ChatOutcome(job=job, result=job.send(server))
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
