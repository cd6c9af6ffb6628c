#!/usr/bin/env bash
# Crash test: kill -9 a server mid-load, restart it on the same directory and
# check that every acknowledged write survived and no transaction over several
# shards is half there (target/release/crash-check, src/bin/crash-check.rs,
# says exactly what is checked). Then the same with appendfsync everysec,
# where loss is measured instead: acknowledged writes missing and how long
# before the kill the oldest of them was acknowledged.
#
#   bash benches/crash.sh [TRIALS]      ringbus --appendonly yes --appendfsync always --threads 2
#   REDIS=1 bash benches/crash.sh       redis-server with the same settings
#
# TRIALS (default 100) is the number of always trials; EVERYSEC_TRIALS
# (default 20, 0 to skip) the number of everysec ones. CRASH_ARGS adds
# crash-check options (e.g. "--seed 42 --clients 24 --max-load 5").
# SERVER_CMD replaces the always command line ({port}, {dir} and the word
# "always" are filled in; split on blanks); the everysec run uses the same
# line with "always" replaced by "everysec". Each server runs in its own
# temp directory ({dir}, also its working directory) on a free loopback port
# and is killed when its trial ends. Exit status: crash-check's (0 passed,
# 1 a check failed, 2 the server could not be run), the worse of both runs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRIALS=${1:-${TRIALS:-100}}
EVERYSEC_TRIALS=${EVERYSEC_TRIALS:-20}
read -r -a EXTRA <<<"${CRASH_ARGS:-}"

BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
echo "building crash-check and ringbus (release)..." >&2
cargo build --release --bin crash-check --bin ringbus --manifest-path "$ROOT/Cargo.toml" >&2

if [[ -n ${SERVER_CMD:-} ]]; then
    read -r -a ALWAYS <<<"$SERVER_CMD"
elif [[ ${REDIS:-0} == 1 ]]; then
    ALWAYS=("$(command -v redis-server)" --port '{port}' --bind 127.0.0.1 --dir '{dir}' --save ''
        --appendonly yes --appendfsync always)
else
    # ringbus keeps its files in its working directory, the trial's {dir}.
    ALWAYS=("$BIN/ringbus" --port '{port}' --bind 127.0.0.1 --appendonly yes --appendfsync always
        --threads 2)
fi
EVERYSEC=("${ALWAYS[@]/#always/everysec}")

status=0
echo "== appendfsync always: $TRIALS trials, no acknowledged write may be lost"
"$BIN/crash-check" --trials "$TRIALS" "${EXTRA[@]}" -- "${ALWAYS[@]}" || status=$?

if ((EVERYSEC_TRIALS > 0)); then
    echo
    echo "== appendfsync everysec: $EVERYSEC_TRIALS trials, loss measured"
    everysec_status=0
    "$BIN/crash-check" --everysec --trials "$EVERYSEC_TRIALS" "${EXTRA[@]}" -- "${EVERYSEC[@]}" ||
        everysec_status=$?
    if ((everysec_status > status)); then status=$everysec_status; fi
fi
exit "$status"
