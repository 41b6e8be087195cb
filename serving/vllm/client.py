"""A synchronous client for vLLM's OpenAI-compatible API, and a pool over several servers.

Transient failures (connection errors, timeouts, 502/503/504) are retried with exponential
backoff; 4xx never is. Errors carry the server's own message.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})


class ServingError(Exception):
    """Anything that went wrong talking to a model server."""

    def __init__(self, message: str, *, url: str = "", status_code: int | None = None):
        super().__init__(message)
        self.url = url
        self.status_code = status_code


class ServerUnavailable(ServingError):
    """The server could not be reached, timed out, or failed (5xx) after retries."""


class BadRequest(ServingError):
    """The server refused the request (4xx); the message is the server's."""


class PoolError(ServingError):
    """An operation meant for every server failed on some; `failures` maps url to error.
    After a failed adapter load, `unloaded` lists the servers it was unloaded from again."""

    def __init__(
        self,
        message: str,
        *,
        failures: dict[str, ServingError],
        unloaded: tuple[str, ...] = (),
    ):
        super().__init__(message)
        self.failures = failures
        self.unloaded = unloaded


@dataclass(frozen=True)
class Sampling:
    n: int = 1
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False


@dataclass(frozen=True)
class Choice:
    index: int
    text: str
    finish_reason: str
    logprobs: list | None = None  # [{"token": str, "logprob": float}, ...] when requested


@dataclass(frozen=True)
class ChatResult:
    model: str
    choices: list[Choice]
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    request_id: str
    seed: int | None  # the seed actually sent (None when not sent)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    parent: str | None  # the base model's name for an adapter; None for a base model


class VLLMClient:
    """One vLLM server. Thread-safe (one httpx.Client underneath)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        send_seed: bool = True,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.send_seed = send_seed
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"VLLMClient({self.base_url!r})"

    def __enter__(self) -> VLLMClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def chat(self, *, model: str, messages: list[dict], sampling: Sampling) -> ChatResult:
        body, seed = chat_request_body(
            model=model, messages=messages, sampling=sampling, send_seed=self.send_seed
        )
        started = time.monotonic()
        response = self._request("POST", "/v1/chat/completions", json=body)
        latency_ms = round((time.monotonic() - started) * 1000)
        return parse_chat_response(response.json(), latency_ms=latency_ms, seed=seed)

    def complete(self, *, model: str, prompt: str, sampling: Sampling) -> ChatResult:
        """A plain-text completion (/v1/completions) of `prompt`: for base models without a
        chat template. The result has the same shape as a chat's."""
        body, seed = completion_request_body(
            model=model, prompt=prompt, sampling=sampling, send_seed=self.send_seed
        )
        started = time.monotonic()
        response = self._request("POST", "/v1/completions", json=body)
        latency_ms = round((time.monotonic() - started) * 1000)
        return parse_completion_response(response.json(), latency_ms=latency_ms, seed=seed)

    def models(self) -> list[ModelInfo]:
        data = self._request("GET", "/v1/models").json().get("data", [])
        return [ModelInfo(id=item["id"], parent=item.get("parent")) for item in data]

    def health(self) -> bool:
        """True when the server answers /health with 200; never raises."""
        try:
            return self._http.get("/health", timeout=min(self.timeout, 5.0)).status_code == 200
        except (httpx.HTTPError, OSError):
            return False

    def load_adapter(self, *, name: str, path: str) -> bool:
        """Load a LoRA adapter under `name`; a name already loaded counts as success.
        True when this call loaded it, False when it was loaded already."""
        try:
            self._request(
                "POST", "/v1/load_lora_adapter", json={"lora_name": name, "lora_path": str(path)}
            )
        except BadRequest as exc:
            if "already been loaded" not in str(exc):
                raise
            return False
        return True

    def unload_adapter(self, *, name: str) -> None:
        """Unload the adapter `name`; one that is not loaded (404) counts as success."""
        try:
            self._request("POST", "/v1/unload_lora_adapter", json={"lora_name": name})
        except BadRequest as exc:
            if exc.status_code != 404:
                raise

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries on transient failures; raise BadRequest / ServerUnavailable."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.TransportError, OSError) as exc:  # connect, read, timeouts
                if last:
                    raise ServerUnavailable(
                        f"{self.base_url}{path}: {type(exc).__name__}: {exc or 'no answer'} "
                        f"(after {self.retries + 1} attempts)",
                        url=self.base_url,
                    ) from exc
            else:
                if response.status_code < 400:
                    return response
                message = error_message(response)
                if 400 <= response.status_code < 500:
                    raise BadRequest(message, url=self.base_url, status_code=response.status_code)
                if last or response.status_code not in RETRY_STATUSES:
                    raise ServerUnavailable(
                        f"{self.base_url}{path}: HTTP {response.status_code}: {message}",
                        url=self.base_url,
                        status_code=response.status_code,
                    )
            delay = self.backoff * 2**attempt
            log.info("%s %s%s failed, retrying in %.1fs", method, self.base_url, path, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")


def chat_request_body(
    *, model: str, messages: list[dict], sampling: Sampling, send_seed: bool
) -> tuple[dict, int | None]:
    """The JSON body of a chat completion request, and the seed it carries (or None)."""
    body, seed = _sampling_body(sampling, send_seed=send_seed)
    if sampling.logprobs:
        body["logprobs"] = True
    return {"model": model, "messages": messages, **body}, seed


def completion_request_body(
    *, model: str, prompt: str, sampling: Sampling, send_seed: bool
) -> tuple[dict, int | None]:
    """The JSON body of a /v1/completions request, and the seed it carries (or None)."""
    body, seed = _sampling_body(sampling, send_seed=send_seed)
    if sampling.logprobs:
        body["logprobs"] = 0  # the sampled token's logprob, no alternatives
    return {"model": model, "prompt": prompt, **body}, seed


def _sampling_body(sampling: Sampling, *, send_seed: bool) -> tuple[dict, int | None]:
    body: dict[str, Any] = {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
    }
    seed = sampling.seed if send_seed else None
    if seed is not None:
        body["seed"] = seed
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    return body, seed


def parse_chat_response(data: dict, *, latency_ms: int, seed: int | None) -> ChatResult:
    choices = [
        Choice(
            index=item["index"],
            text=(item.get("message") or {}).get("content") or "",
            finish_reason=item.get("finish_reason") or "",
            logprobs=_token_logprobs(item.get("logprobs")),
        )
        for item in sorted(data.get("choices", []), key=lambda item: item["index"])
    ]
    return _result(data, choices, latency_ms=latency_ms, seed=seed)


def parse_completion_response(data: dict, *, latency_ms: int, seed: int | None) -> ChatResult:
    """A /v1/completions answer: each choice's `text`, and its logprobs as `tokens` and
    `token_logprobs` lists (a chat's come as `content` entries)."""
    choices = [
        Choice(
            index=item["index"],
            text=item.get("text") or "",
            finish_reason=item.get("finish_reason") or "",
            logprobs=_completion_token_logprobs(item.get("logprobs")),
        )
        for item in sorted(data.get("choices", []), key=lambda item: item["index"])
    ]
    return _result(data, choices, latency_ms=latency_ms, seed=seed)


def _result(data: dict, choices: list[Choice], *, latency_ms: int, seed: int | None) -> ChatResult:
    usage = data.get("usage") or {}
    return ChatResult(
        model=data.get("model", ""),
        choices=choices,
        prompt_tokens=usage.get("prompt_tokens", 0),
        completion_tokens=usage.get("completion_tokens", 0),
        latency_ms=latency_ms,
        request_id=data.get("id", ""),
        seed=seed,
    )


def _token_logprobs(logprobs: dict | None) -> list | None:
    if not logprobs or logprobs.get("content") is None:
        return None
    return [{"token": item["token"], "logprob": item["logprob"]} for item in logprobs["content"]]


def _completion_token_logprobs(logprobs: dict | None) -> list | None:
    if not logprobs or logprobs.get("tokens") is None:
        return None
    values = logprobs.get("token_logprobs") or [None] * len(logprobs["tokens"])
    return [
        {"token": token, "logprob": value}
        for token, value in zip(logprobs["tokens"], values, strict=True)
    ]


def error_message(response: httpx.Response) -> str:
    """The server's own error message (vLLM: {"error": {"message": ...}}), else the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("message", "detail", "error"):
            if data.get(key):
                return str(data[key])
    return str(data)[:500]


class ServerPool:
    """Every configured server: chat and completions go round-robin with failover, adapters
    go to all."""

    clients: list[VLLMClient]

    def __init__(self, urls: list[str], **client_kwargs: Any):
        if not urls:
            raise ValueError("ServerPool needs at least one server URL")
        self.clients = [VLLMClient(url, **client_kwargs) for url in urls]
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def chat(self, *, model: str, messages: list[dict], sampling: Sampling) -> ChatResult:
        return self._next_answering(
            lambda client: client.chat(model=model, messages=messages, sampling=sampling)
        )

    def complete(self, *, model: str, prompt: str, sampling: Sampling) -> ChatResult:
        return self._next_answering(
            lambda client: client.complete(model=model, prompt=prompt, sampling=sampling)
        )

    def _next_answering(self, send: Callable[[VLLMClient], ChatResult]) -> ChatResult:
        """`send` to the next server in turn, then to the others while they are unavailable
        or do not have the model (404: an adapter its agent has not loaded back yet)."""
        with self._lock:
            start = next(self._turn) % len(self.clients)
        errors: list[ServerUnavailable] = []
        missing: list[BadRequest] = []
        for offset in range(len(self.clients)):
            client = self.clients[(start + offset) % len(self.clients)]
            try:
                return send(client)
            except ServerUnavailable as exc:
                log.warning("%s unavailable, trying the next server: %s", client.base_url, exc)
                errors.append(exc)
            except BadRequest as exc:
                if exc.status_code != 404:
                    raise
                log.warning("%s lacks the model, trying the next server: %s", client.base_url, exc)
                missing.append(exc)
        if not errors:  # every server answered that it has no such model
            raise missing[0]
        raise ServerUnavailable(
            "No model server answered: "
            + "; ".join([*map(str, errors), *(f"{error.url}: {error}" for error in missing)])
        )

    def load_adapter(self, *, name: str, path: str) -> None:
        """Load on every server or on none: where some fail, the servers this call loaded it
        on unload it again (best effort, logged), and PoolError names the ones that failed."""
        loaded, failures = self._on_every_server("load_adapter", name=name, path=path)
        if not failures:
            return
        fresh = [url for url, newly in loaded.items() if newly]  # not one it was serving already
        unloaded, stuck = self._unload_from(fresh, name=name)
        note = f" It was unloaded again from {', '.join(unloaded)}." if unloaded else ""
        if stuck:
            note += f" Unloading it again failed on {', '.join(stuck)}."
        raise self._pool_error(
            f"load adapter {name!r}", failures, note=note, unloaded=tuple(unloaded)
        )

    def unload_adapter(self, *, name: str) -> None:
        _, failures = self._on_every_server("unload_adapter", name=name)
        if failures:
            raise self._pool_error(f"unload adapter {name!r}", failures)

    def health(self) -> dict[str, bool]:
        return {client.base_url: client.health() for client in self.clients}

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def _on_every_server(
        self, method: str, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, ServingError]]:
        """Call `method` on each server: ({url: its result}, {url: its error})."""
        results: dict[str, Any] = {}
        failures: dict[str, ServingError] = {}
        for client in self.clients:
            try:
                results[client.base_url] = getattr(client, method)(**kwargs)
            except ServingError as exc:
                failures[client.base_url] = exc
        return results, failures

    def _unload_from(self, urls: list[str], *, name: str) -> tuple[list[str], list[str]]:
        """Unload `name` from the servers at `urls`: (those that did, those that failed)."""
        unloaded, stuck = [], []
        for client in self.clients:
            if client.base_url not in urls:
                continue
            try:
                client.unload_adapter(name=name)
                unloaded.append(client.base_url)
            except ServingError as exc:
                log.warning("could not unload %r from %s again: %s", name, client.base_url, exc)
                stuck.append(client.base_url)
        return unloaded, stuck

    def _pool_error(
        self,
        what: str,
        failures: dict[str, ServingError],
        *,
        note: str = "",
        unloaded: tuple[str, ...] = (),
    ) -> PoolError:
        listed = "; ".join(f"{url}: {error}" for url, error in failures.items())
        message = f"Could not {what} on {len(failures)} of {len(self.clients)} servers: {listed}"
        if note:
            message = f"{message.rstrip('.')}.{note}"
        return PoolError(message, failures=failures, unloaded=unloaded)
