#!/usr/bin/env bash
# Set up .venv and run the live demo: embedded Redis + simulator + dashboard on :8050.
# Extra arguments go to `python -m dashboard demo` (e.g. --port 8060 --speed 10; --help lists them).
# Ctrl-C (or SIGTERM) stops the simulator, the dashboard and the embedded Redis, data saved in ./var.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install -q -r requirements.txt
export TMPDIR="${TMPDIR:-/tmp}"
exec .venv/bin/python -m dashboard demo "$@"
