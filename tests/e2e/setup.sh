# Sourced by tests/run.sh and benches/jobs-vs-redis.sh (bash, set -euo
# pipefail): installs the packages of the end-to-end tests and exports
#   RINGBUS_E2E_PYTHON  python of target/e2e-venv, with tests/e2e/requirements.txt
#   RINGBUS_E2E_NODE    target/e2e-node, holding node_modules from
#                       tests/e2e/bullmq/package-lock.json
# Each is (re)installed only when its pinned file changes; nodejs/npm and
# python3-venv come from apt when missing (Debian). A failed install is
# reported and left missing, so the tests that need it fail saying so.
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# End-to-end tests (tests/job_queues.rs): real Celery and RQ workers, from
# PyPI at the versions in tests/e2e/requirements.txt, in a venv that is
# rebuilt only when that file changes. The tests find its python through
# RINGBUS_E2E_PYTHON (or, without it, at target/e2e-venv/bin/python).
E2E_VENV="$E2E_ROOT/target/e2e-venv"
E2E_REQS="$E2E_ROOT/tests/e2e/requirements.txt"
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

# The BullMQ end-to-end test (tests/e2e/bullmq_e2e.mjs): bullmq and ioredis
# from npm at the versions in tests/e2e/bullmq/package-lock.json, installed
# with `npm ci` into target/e2e-node, again only when that file changes. The
# test finds them through RINGBUS_E2E_NODE (or, without it, target/e2e-node)
# and runs the `node` on PATH.
E2E_NODE="$E2E_ROOT/target/e2e-node"
E2E_LOCK="$E2E_ROOT/tests/e2e/bullmq/package-lock.json"
if ! cmp -s "$E2E_LOCK" "$E2E_NODE/package-lock.json" || [[ ! -f $E2E_NODE/node_modules/bullmq/package.json ]]; then
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "installing nodejs and npm (the BullMQ end-to-end test needs them)..." >&2
        SUDO=""
        [[ $(id -u) -eq 0 ]] || SUDO=sudo
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
    fi
    echo "installing $E2E_LOCK into $E2E_NODE with npm ci..." >&2
    rm -rf "$E2E_NODE"
    mkdir -p "$E2E_NODE"
    cp "$E2E_ROOT/tests/e2e/bullmq/package.json" "$E2E_LOCK" "$E2E_NODE/"
    # --ignore-scripts: msgpackr-extract's optional native build is not needed.
    if ! (cd "$E2E_NODE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null); then
        # As for the venv: the rest of the suite still runs, and
        # tests/job_queues.rs's BullMQ tests fail saying the packages are missing.
        echo "error: could not install $E2E_LOCK into $E2E_NODE; the BullMQ end-to-end test will fail" >&2
        rm -rf "$E2E_NODE"
    fi
fi
export RINGBUS_E2E_NODE="$E2E_NODE"
