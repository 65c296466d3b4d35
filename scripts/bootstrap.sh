#!/usr/bin/env bash
# Builds the project's environment from nothing: a Python >= 3.12 virtualenv in .venv with every
# dependency the tests and benchmarks need, and Azurite (the Azure emulator) under node_modules.
# Idempotent: re-running it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    local candidates=(python3.13 python3.12)
    for c in "${candidates[@]}"; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
            command -v "$c"; return 0
        fi
    done
    # pyenv builds are not on PATH unless a shim selects them.
    local root
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for v in "$root"/versions/3.12* "$root"/versions/3.13*; do
        if [ -x "$v/bin/python3" ]; then echo "$v/bin/python3"; return 0; fi
    done
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
        command -v python3; return 0
    fi
    return 1
}

if [ ! -x .venv/bin/python ]; then
    PY="$(find_python)" || { echo "bootstrap: no Python >= 3.12 found (tried PATH and pyenv)" >&2; exit 1; }
    echo "bootstrap: creating .venv with $PY"
    "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
fi
echo "bootstrap: installing Python packages"
.venv/bin/uv pip install --quiet --python .venv/bin/python -e ".[dev]"

if [ "${CLOUDZARR_SKIP_NODE:-0}" != "1" ]; then
    if command -v npm >/dev/null 2>&1; then
        echo "bootstrap: installing Azurite"
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
    else
        echo "bootstrap: npm not found; Azure tests need Azurite (npm install)" >&2
        exit 1
    fi
fi
