#!/usr/bin/env bash
# Set up and run everything on the embedded defaults: web server, task worker and a local
# vLLM server (unless VLLM_URLS names servers to use). Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

export DEBUG=${DEBUG:-1}
PORT=${PORT:-8000}

scripts/setup.sh
.venv/bin/python manage.py seed_demo
.venv/bin/python manage.py generation_start  # pre-generation of completions, run by the worker

mkdir -p var/log
pids=()
cleanup() { trap - EXIT INT TERM; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -z "${VLLM_URLS:-}" ]; then
  say "Starting the model server (log: var/log/serve_model.log, vLLM's own: var/log/vllm.log)"
  .venv/bin/python manage.py serve_model >>var/log/serve_model.log 2>&1 &
  pids+=($!)
fi
say "Starting the task workers (logs: var/log/worker-*.log)"
# One worker per queue: a training run or a long refill never delays imports and exports.
for queue in default generation training; do
  .venv/bin/python manage.py db_worker --queue-name "$queue" >>"var/log/worker-$queue.log" 2>&1 &
  pids+=($!)
done

say "Loopwork is at http://127.0.0.1:$PORT/  (admin: http://127.0.0.1:$PORT/admin/)"
.venv/bin/python manage.py runserver "127.0.0.1:$PORT" &
pids+=($!)
wait -n "${pids[@]}"
