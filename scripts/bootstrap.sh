#!/usr/bin/env bash
# Create .venv/ and install the project with its pinned grading environment.
# Idempotent: a stamp of pyproject.toml + grading_env/requirements.txt skips a repeat install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml grading_env/requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "installing the grading environment into .venv (a few minutes the first time) …" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r grading_env/requirements.txt -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Headless Chromium for the report's browser test (tests/test_report_browser.py): installed
# where we may (root, apt-get), quietly; elsewhere left out, and that test skips.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends chromium \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }; } >/dev/null 2>&1 || true
fi
