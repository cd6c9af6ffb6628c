#!/usr/bin/env bash
# Runs the whole ringbus test suite: unit and property tests, integration tests
# against the real binary, and the differential test against redis-server.
# Installs what it needs on a fresh Debian machine (redis-server, redis-tools,
# python3-venv) and the Python packages of the end-to-end tests
# (tests/e2e/requirements.txt) into target/e2e-venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "installing redis-server and redis-tools (the differential test needs them)..." >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
fi

# End-to-end tests (tests/job_queues.rs): real Celery and RQ workers, from
# PyPI at the versions in tests/e2e/requirements.txt, in a venv that is
# rebuilt only when that file changes. The tests find its python through
# RINGBUS_E2E_PYTHON (or, without it, at target/e2e-venv/bin/python).
E2E_VENV="$PWD/target/e2e-venv"
E2E_REQS=tests/e2e/requirements.txt
if ! cmp -s "$E2E_REQS" "$E2E_VENV/requirements.txt" || ! "$E2E_VENV/bin/python" -c 'import celery, rq' 2>/dev/null; then
    if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        echo "installing python3-venv (the end-to-end tests need it)..." >&2
        SUDO=""
        [[ $(id -u) -eq 0 ]] || SUDO=sudo
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    echo "creating $E2E_VENV with $E2E_REQS..." >&2
    rm -rf "$E2E_VENV"
    if python3 -m venv "$E2E_VENV" &&
        "$E2E_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$E2E_REQS"; then
        cp "$E2E_REQS" "$E2E_VENV/requirements.txt"
    else
        # The rest of the suite still runs; tests/job_queues.rs then fails
        # saying the venv is missing.
        echo "error: could not set up $E2E_VENV; the end-to-end tests will fail" >&2
        rm -rf "$E2E_VENV"
    fi
fi
export RINGBUS_E2E_PYTHON="$E2E_VENV/bin/python"

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
else
    cargo test --no-fail-fast "$@"
fi
