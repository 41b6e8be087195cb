#!/usr/bin/env bash
# The whole test suite: lint, migrations check, pytest on SQLite, then the database-dependent
# tests again on PostgreSQL when one is reachable. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

scripts/setup.sh

# Debian's Chromium for the browser tests (Playwright's own download needs a network we lack).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "Installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and cannot be installed here (not root): the browser tests will fail" >&2
  fi
fi

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
say "import contracts (.importlinter)"
.venv/bin/lint-imports
say "makemigrations --check"
.venv/bin/python manage.py makemigrations --check --dry-run

say "pytest (SQLite)"
.venv/bin/pytest "$@"

POSTGRES_URL=${POSTGRES_TEST_URL:-postgres://postgres@127.0.0.1:5432/postgres}
if .venv/bin/python -m scripts.postgres_reachable "$POSTGRES_URL"; then
  say "pytest -m postgres (PostgreSQL at ${POSTGRES_URL##*@})"
  DATABASE_URL=$POSTGRES_URL .venv/bin/pytest -m postgres "$@"
else
  printf '\033[33mSKIPPED: PostgreSQL is not reachable at %s; the postgres-marked tests ran on SQLite only.\033[0m\n' "${POSTGRES_URL##*@}"
fi
