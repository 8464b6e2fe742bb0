#!/usr/bin/env bash
# Set up and run every test: Chromium and nginx (apt, when missing and root), .venv with the app's
# and the test requirements, then pytest (unit, real redis-server, May calibration, headless
# browser, replicas behind nginx). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
browser_found() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }
nginx_found() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }
if ! browser_found || ! nginx_found; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-wqy-microhei nginx
  elif ! browser_found; then
    echo "error: the browser tests need chromium and chromedriver (and the deployment test nginx):" >&2
    echo "  sudo apt-get install chromium chromium-driver fonts-wqy-microhei nginx" >&2
    exit 1
  else
    echo "note: nginx is not installed, so tests/test_deploy_replicas.py is skipped here (CI runs it):" >&2
    echo "  sudo apt-get install nginx" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt -r requirements-test.txt
export TMPDIR="${TMPDIR:-/tmp}"
exec .venv/bin/python -m pytest -q "$@"
