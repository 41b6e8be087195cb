"""The agent beside one vLLM server: it keeps the adapters the app wants loaded on that server.

Each round it asks the app which adapters must be served (GET, a bearer token), compares them
with the server's /v1/models, downloads the missing ones as archives, checks each archive's
SHA-256 against the one announced (a mismatch is refused and reported, never loaded), unpacks
it into its cache, loads it with /v1/load_lora_adapter from that local path, unloads adapters
no longer wanted, and reports what the server now has. A server that restarted lists no
adapters, so the next round loads them back.

    python -m serving.vllm.agent --app https://app.example --token T \
        --server http://127.0.0.1:8000 --cache /var/cache/loopwork-agent

No Django here: it runs on the model server's host with only httpx installed.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx

from serving.vllm.archive import ArchiveError, archive_extract
from serving.vllm.client import ServerUnavailable, ServingError, VLLMClient

log = logging.getLogger("serving.agent")

ADAPTERS_PATH = "/api/serving/agent/adapters/"
REPORT_PATH = "/api/serving/agent/report/"
DEFAULT_POLL_SECONDS = 5.0


class AgentError(Exception):
    """The app refused the agent or could not be reached; the message says which."""


@dataclass(frozen=True)
class WantedAdapter:
    name: str
    sha256: str
    size: int
    url: str  # absolute, or relative to the app


@dataclass
class Round:
    """What one round did and found: the report sent to the app."""

    adapters: list[str] = field(default_factory=list)  # loaded on the server at the end
    failures: dict[str, str] = field(default_factory=dict)  # name: why it is not loaded
    loaded: list[str] = field(default_factory=list)  # loaded by this round
    unloaded: list[str] = field(default_factory=list)
    error: str = ""  # the server could not be reached


class Agent:
    def __init__(
        self,
        *,
        app_url: str,
        token: str,
        server_url: str,
        cache_dir: Path,
        report_as: str | None = None,
        timeout: float = 120.0,
    ):
        self.app_url = app_url.rstrip("/") + "/"
        self.server_url = server_url.rstrip("/")
        self.report_as = (report_as or server_url).rstrip("/")
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.poll_seconds = DEFAULT_POLL_SECONDS
        self._app = httpx.Client(
            timeout=timeout, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
        )
        self._server = VLLMClient(self.server_url, retries=1, timeout=timeout)

    def close(self) -> None:
        self._app.close()
        self._server.close()

    def run(self, stop: threading.Event | None = None, *, once: bool = False) -> None:
        """Rounds until `stop` is set (or one round); an unreachable app only delays."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.sync_once()
            except AgentError as exc:
                log.error("%s", exc)
                if once:
                    raise
            if once:
                return
            stop.wait(self.poll_seconds)

    def sync_once(self) -> Round:
        wanted = self.wanted()
        result = Round()
        try:
            on_server = self._adapters_on_server()
        except ServingError as exc:
            result.error = f"{self.server_url} unreachable: {exc}"
            log.warning("%s", result.error)
            self.report(result)
            return result
        names = {adapter.name for adapter in wanted}
        for adapter in wanted:
            if adapter.name in on_server:
                continue
            try:
                self._load(adapter)
                result.loaded.append(adapter.name)
            except ServerUnavailable as exc:
                result.error = f"{self.server_url} unreachable: {exc}"
                break
            except (ServingError, ArchiveError, AgentError, OSError) as exc:
                result.failures[adapter.name] = str(exc)
                log.error("adapter %s not loaded: %s", adapter.name, exc)
        stuck = False
        for name in sorted(on_server - names):
            try:
                self._server.unload_adapter(name=name)
                result.unloaded.append(name)
                log.info("adapter %s unloaded (no longer wanted)", name)
            except ServingError as exc:
                stuck = True
                log.warning("could not unload %s: %s", name, exc)
        if not stuck:  # vLLM may read a loaded adapter's files again: keep those
            clear_cache(self.cache_dir, keep={adapter.sha256 for adapter in wanted})
        try:
            result.adapters = sorted(self._adapters_on_server())
        except ServingError as exc:
            result.error = result.error or f"{self.server_url} unreachable: {exc}"
        self.report(result)
        return result

    def wanted(self) -> list[WantedAdapter]:
        data = self._app_request("GET", ADAPTERS_PATH).json()
        self.poll_seconds = float(data.get("poll_seconds") or DEFAULT_POLL_SECONDS)
        return [
            WantedAdapter(
                name=item["name"], sha256=item["sha256"], size=int(item["size"]), url=item["url"]
            )
            for item in data["adapters"]
        ]

    def report(self, result: Round) -> None:
        body = {
            "server": self.report_as,
            "adapters": result.adapters,
            "failures": result.failures,
            "error": result.error,
        }
        self._app_request("POST", REPORT_PATH, json=body)

    def _adapters_on_server(self) -> set[str]:
        return {model.id for model in self._server.models() if model.parent}

    def _load(self, adapter: WantedAdapter) -> None:
        path = self.local_copy(adapter)
        self._server.load_adapter(name=adapter.name, path=str(path))
        log.info("adapter %s loaded from %s", adapter.name, path)

    def local_copy(self, adapter: WantedAdapter) -> Path:
        """The adapter unpacked in the cache (folder named by its SHA-256), fetched if absent."""
        target = self.cache_dir / adapter.sha256
        if target.is_dir():
            return target
        with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".partial-") as scratch:
            archive = Path(scratch) / "adapter.tar"
            self._download(adapter, archive)
            unpacked = Path(scratch) / "adapter"
            archive_extract(archive, unpacked)
            try:
                os.rename(unpacked, target)
            except OSError:
                if not target.is_dir():  # not another agent's copy that won the race
                    raise
        return target

    def _download(self, adapter: WantedAdapter, archive: Path) -> None:
        sha, size = hashlib.sha256(), 0
        url = urljoin(self.app_url, adapter.url)
        try:
            with self._app.stream("GET", url) as response, open(archive, "wb") as handle:
                if response.status_code != 200:
                    response.read()
                    raise AgentError(
                        f"download of {adapter.name} refused: HTTP {response.status_code}: "
                        f"{_message(response)}"
                    )
                for chunk in response.iter_bytes():
                    sha.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
        except httpx.HTTPError as exc:
            raise AgentError(f"download of {adapter.name} failed: {exc}") from exc
        if sha.hexdigest() != adapter.sha256 or size != adapter.size:
            raise ArchiveError(
                f"archive of {adapter.name} refused: SHA-256 {sha.hexdigest()} ({size} bytes) "
                f"is not the announced {adapter.sha256} ({adapter.size} bytes)"
            )

    def _app_request(self, method: str, path: str, **kwargs) -> httpx.Response:
        url = urljoin(self.app_url, path.lstrip("/"))
        try:
            response = self._app.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise AgentError(f"app at {self.app_url} unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise AgentError(
                f"app refused {method} {path}: HTTP {response.status_code}: {_message(response)}"
            )
        return response


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict) and "detail" in data:
        return f"{data['detail']} ({data.get('code', '')})"
    return str(data)[:300]


def clear_cache(cache_dir: Path, keep: set[str]) -> None:
    """Remove unpacked adapters whose digest is no longer announced (disk is not free)."""
    for entry in Path(cache_dir).iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m serving.vllm.agent",
        description="Keep the adapters the app wants loaded on one vLLM server.",
    )
    parser.add_argument("--app", required=True, help="the app's base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("SERVING_AGENT_TOKEN", ""),
        help="the app's SERVING_AGENT_TOKEN (default: that environment variable)",
    )
    parser.add_argument(
        "--server", required=True, help="this vLLM server's URL, as the agent reaches it"
    )
    parser.add_argument(
        "--report-as",
        default=None,
        help="the server's URL as the app names it in VLLM_URLS (default: --server)",
    )
    parser.add_argument("--cache", required=True, type=Path, help="where adapters are unpacked")
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or SERVING_AGENT_TOKEN) is required")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    agent = Agent(
        app_url=args.app,
        token=args.token,
        server_url=args.server,
        cache_dir=args.cache,
        report_as=args.report_as,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        agent.run(stop, once=args.once)
    except AgentError as exc:
        raise SystemExit(str(exc)) from exc
    finally:
        agent.close()


if __name__ == "__main__":
    main()
