#!/usr/bin/env bash
# Create .venv if missing, install the app and test requirements, run every test (browser ones too).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt -r requirements-test.txt
TMPDIR=/tmp .venv/bin/python -m pytest -q "$@"
