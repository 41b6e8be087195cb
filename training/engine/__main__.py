"""python -m training.engine METHOD --data DIR --out DIR [--config FILE] [--base-model DIR]
[--set key=value ...] [--events FILE] [--stop-file FILE]

Prints one progress line per logged step and, last, a JSON summary on stdout. A bad
configuration or snapshot exits with status 2 and the reason; Ctrl-C stops at the next step
boundary (status 130) without publishing anything. Under `accelerate launch` or torchrun only
the main process prints, evaluates and publishes; `--events` and `--stop-file` are how
training.engine.launch follows and cancels such a run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from training.engine import launch
from training.engine.config import ConfigError, load_config, validate
from training.engine.launch import EventLog
from training.engine.schema import METHODS

EXIT_CONFIG = 2
EXIT_CANCELLED = 130
SHOWN_METRICS = (
    "rewards/accuracies",
    "rewards/margins",
    "accuracy",
    "margin",
    "kl",
    "reward",
    "eval_loss",
    "mean_token_accuracy",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m training.engine", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("method", choices=METHODS)
    parser.add_argument(
        "--data", required=True, help="snapshot directory (manifest.json + *.jsonl)"
    )
    parser.add_argument("--out", required=True, help="directory to publish the adapter into")
    parser.add_argument("--config", help="JSON file of settings (nested or dotted keys)")
    parser.add_argument("--base-model", help="base model directory (overrides the config)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set dpo.beta=0.2 (repeatable)",
    )
    parser.add_argument(
        "--events",
        metavar="FILE",
        help="append each progress event, then the result or the error, to FILE as JSON lines",
    )
    parser.add_argument(
        "--stop-file", metavar="FILE", help="stop at the next step boundary once FILE exists"
    )
    return parser.parse_args(argv)


def format_event(event) -> str:
    parts = [f"[{event.phase}] {event.kind} step {event.step}/{event.total_steps}"]
    if event.loss is not None:
        parts.append(f"loss {event.loss:.4f}")
    parts.extend(f"{k}={event.metrics[k]:.4g}" for k in SHOWN_METRICS if k in event.metrics)
    if event.remaining_s is not None:
        parts.append(f"eta {event.remaining_s:.0f}s")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    events = EventLog(args.events)
    overrides = [*args.overrides, f"output_dir={args.out}"]
    if args.base_model:
        overrides.append(f"base_model={args.base_model}")
    try:
        config = load_config(args.config, args.method, overrides)
        validate(config)  # settings alone, before the heavy imports; the data is checked later
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        events.error(launch.CONFIG, str(exc))
        return EXIT_CONFIG

    import datasets

    from training.engine import ranks, train
    from training.engine.progress import Cancelled

    datasets.disable_progress_bars()
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop_file = launch.stop_file_check(args.stop_file)

    def progress(event) -> None:  # called in the main process only
        print(format_event(event), flush=True)
        events.write("event", event)

    try:
        result = train(
            config, args.data, progress, should_stop=lambda: stop.is_set() or stop_file()
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        events.error(launch.CONFIG, str(exc))
        return EXIT_CONFIG
    except Cancelled as exc:
        print(f"cancelled: {exc}", file=sys.stderr)
        if ranks.is_main():
            events.error(launch.CANCELLED, str(exc))
        return EXIT_CANCELLED
    except Exception as exc:
        events.error(launch.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    if not ranks.is_main():
        return 0
    events.write("result", result.to_dict())
    summary = {
        "method": result.method,
        "output_dir": result.output_dir,
        "steps": result.steps,
        "metrics": result.metrics,
    }
    print(json.dumps(summary, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
