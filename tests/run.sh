#!/usr/bin/env bash
# Runs the whole ringbus test suite: unit and property tests, integration tests
# against the real binary, and the differential test against redis-server.
# Installs what it needs on a fresh Debian machine (redis-server, redis-tools,
# iproute2, python3-venv, nodejs and npm), the Python packages of the end-to-end tests
# (tests/e2e/requirements.txt) into target/e2e-venv and their Node packages
# (tests/e2e/bullmq/package-lock.json) into target/e2e-node.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "installing redis-server and redis-tools (the differential test needs them)..." >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
fi
if ! command -v ss >/dev/null; then
    echo "installing iproute2 (the tcp-keepalive test reads socket timers with ss)..." >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iproute2 >/dev/null
fi

# The end-to-end tests' packages (tests/job_queues.rs): Celery and RQ in
# target/e2e-venv, BullMQ in target/e2e-node; sets RINGBUS_E2E_PYTHON and
# RINGBUS_E2E_NODE.
source tests/e2e/setup.sh

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
else
    cargo test --no-fail-fast "$@"
fi
