#!/usr/bin/env bash
# Runs the compatibility tests: real OpenStack clients from PyPI against lazarus's
# Masakari-compatible API. Creates (or reuses) the virtualenv .venv-compat at the repo
# root, installs the pinned clients, builds the example server and runs pytest.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${COMPAT_VENV:-.venv-compat}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
cargo build --quiet -p lazarus-api --example masakari_api
exec "$VENV/bin/python" -m pytest tests/compat -q -p no:warnings "$@"
