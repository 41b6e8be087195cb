"""`python -m bench browser_next`: in a real browser, from the submit key to the next task
visible and ready for keys, with the network 200 ms away.

Debian's Chromium (headless, through Playwright's sync API) works in the annotator's workspace
of a throwaway project (rank and compare tasks, 4 completions a prompt) served by the app in
this process (Django's live-server thread, static files included) on a fresh SQLite database.
Every request the page makes is slowed by 200 ms through Chromium's DevTools protocol
(`Network.emulateNetworkConditions`, latency 200), as an annotator 100-300 ms from the server
sees it.

Each turn does what an annotator does: the kind's keys (ranks 1-4, or A), then Enter. The
figure is the time from that Enter's keydown to the first animation frame after the next task
is in and has the focus (workspace.js sets `#task[data-ready]` then, and marks
`workspace:task-ready`): the frame that shows it. Between turns the annotator "reads" for
THINK_MS after the page is quiet, far less than anyone spends on a task. Measured with
preloading on (settings.WORKSPACE_PRELOAD, the default: the next task is already in the page)
and off (the baseline: the submission's answer brings the next task, as before preloading).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import CHROMIUM_ARGS

LATENCY_MS = 200
GOAL_P95_MS = 50.0
TURNS, QUICK_TURNS = 100, 12
WARMUP_TURNS = 3
THINK_MS = 150
COMPLETIONS_PER_PROMPT = 4

# Installed before the page's own scripts: when Enter went down, and the first frame after
# each task became ready (a mutation of data-ready, then requestAnimationFrame).
PROBE = """
window.__bench = { pressed: null, shown: [] };
window.addEventListener("keydown", (event) => {
  if (event.key === "Enter") window.__bench.pressed = event.timeStamp;
}, true);
new MutationObserver((records) => {
  for (const record of records) {
    const task = record.target;
    if (task.id !== "task" || task.dataset.ready !== "true") continue;
    const ready = performance.now();
    const token = task.querySelector("input[name=token]")?.value || "";
    requestAnimationFrame(() => {
      window.__bench.shown.push({ token, ready, frame: performance.now() });
    });
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
"""


def run(quick: bool) -> dict:
    from bench.common import django_setup_throwaway, percentile

    turns = QUICK_TURNS if quick else TURNS
    with tempfile.TemporaryDirectory(prefix="bench-browser-next-") as workdir:
        os.environ.setdefault("SECURE_HTTPS", "0")  # plain HTTP on loopback
        django_setup_throwaway(Path(workdir))
        from django.test.utils import override_settings

        server = _server_start()
        try:
            figures = {}
            for mode, preload in (("preloading", True), ("baseline", False)):
                with override_settings(WORKSPACE_PRELOAD=preload):
                    figures[mode] = _mode_measure(server, turns=turns, name=mode)
        finally:
            server.terminate()
    on, off = figures["preloading"], figures["baseline"]
    value = round(percentile(on["frame_ms"], 95), 1)
    baseline = round(percentile(off["frame_ms"], 95), 1)
    return {
        "metric": f"p95 ms from the submit key to the next task shown, {LATENCY_MS} ms round trip",
        "value": value,
        "baseline": baseline,
        "goal": f"p95 <= {GOAL_P95_MS:g} ms at {LATENCY_MS} ms round trip (baseline: no preload)",
        "unit": "ms",
        "met": value <= GOAL_P95_MS,
        "params": {
            "latency_ms": LATENCY_MS,
            "turns": turns,
            "warmup_turns": WARMUP_TURNS,
            "think_ms": THINK_MS,
            "kinds": ["rank", "compare"],
            "completions_per_prompt": COMPLETIONS_PER_PROMPT,
            "browser": on["browser"],
            "server": "Django live-server thread in the benchmark process, SQLite (WAL)",
            "quick": quick,
        },
        "modes": {mode: _summary(figures[mode]) for mode in figures},
    }


def _summary(figures: dict) -> dict:
    from bench.common import percentile

    frame, ready = figures["frame_ms"], figures["ready_ms"]
    return {
        "p50_ms": round(statistics.median(frame), 1),
        "p95_ms": round(percentile(frame, 95), 1),
        "max_ms": round(max(frame), 1),
        "ready_p95_ms": round(percentile(ready, 95), 1),  # focus set, before the frame
        "turns": len(frame),
        "kinds": figures["kinds"],
        "seconds": figures["seconds"],
    }


# --- the server and the data ----------------------------------------------------------------


def _server_start():
    """The app on a free loopback port, in a thread of this process (static files served)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    server = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override={}, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    server.url = f"http://127.0.0.1:{server.port}"
    return server


def _project_with_annotator(*, name: str, prompts: int):
    """A project of `prompts` prompts with completions of its live version, and its annotator
    logged in (the session key to hand the browser)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from labeling.models import Completion
    from labeling.services.projects import membership_grant, project_create
    from labeling.services.prompts import prompt_create

    project = project_create(
        name=f"Bench {name}",
        slug=f"bench-{name}",
        task_kinds=["rank", "compare"],
        completions_per_prompt=COMPLETIONS_PER_PROMPT,
        overlap=1,
        guidelines="Prefer the answer that is **correct**, then the one that is clear.",
    )
    live = project.model_versions.get(status="live")
    completions = []
    for i in range(prompts):
        prompt = prompt_create(
            project=project, instruction=f"Benchmark prompt {i}: explain one idea briefly."
        )
        completions += [
            Completion(
                prompt=prompt,
                model_version=live,
                text=f"Answer {k} to prompt {i}: " + "a sentence of an answer. " * 6,
                index=k,
                is_synthetic=True,
            )
            for k in range(COMPLETIONS_PER_PROMPT)
        ]
    Completion.objects.bulk_create(completions)
    user = get_user_model().objects.create_user(username=f"bench-{name}", password="x")
    membership_grant(project=project, user=user, role="annotator")
    client = Client()
    client.force_login(user)
    return project, client.cookies["sessionid"].value


# --- the browser ------------------------------------------------------------------------------


def _mode_measure(server, *, turns: int, name: str) -> dict:
    from playwright.sync_api import sync_playwright

    # Each prompt gives one rank and one compare task.
    project, session = _project_with_annotator(name=name, prompts=turns + WARMUP_TURNS + 4)
    started = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
            context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
            context.add_init_script(PROBE)
            page = context.new_page()
            page.set_default_timeout(30_000)
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send(
                "Network.emulateNetworkConditions",
                {
                    "offline": False,
                    "latency": LATENCY_MS,
                    "downloadThroughput": -1,
                    "uploadThroughput": -1,
                },
            )
            page.goto(f"{server.url}/p/{project.slug}/")
            page.wait_for_selector("#task[data-ready]")
            figures = _turns(page, turns=turns)
            figures["browser"] = f"Chromium {browser.version}"
        finally:
            browser.close()
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def _turns(page, *, turns: int) -> dict:
    frame_ms, ready_ms, kinds = [], [], {}
    for turn in range(turns + WARMUP_TURNS):
        page.wait_for_selector("#task-area:not([data-pending]) #task[data-ready]", state="attached")
        page.wait_for_timeout(THINK_MS)
        kind = page.get_attribute("#task", "data-kind")
        token = page.get_attribute("#task-form input[name=token]", "value")
        for key in ["1", "2", "3", "4"] if kind == "rank" else ["a"]:
            page.keyboard.press(key)
        page.evaluate("window.__bench.shown = []")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "(old) => window.__bench.shown.some((entry) => entry.token && entry.token !== old)",
            arg=token,
        )
        shown = page.evaluate(
            """(old) => {
                const entry = window.__bench.shown.find((e) => e.token && e.token !== old);
                return { pressed: window.__bench.pressed, ready: entry.ready, frame: entry.frame };
            }""",
            token,
        )
        if turn < WARMUP_TURNS:
            continue
        frame_ms.append(shown["frame"] - shown["pressed"])
        ready_ms.append(shown["ready"] - shown["pressed"])
        kinds[kind] = kinds.get(kind, 0) + 1
    page.wait_for_selector("#task-area:not([data-pending])", state="attached")
    return {"frame_ms": frame_ms, "ready_ms": ready_ms, "kinds": kinds}
