#!/usr/bin/env bash
# Compare the pub/sub of a server under test against redis-server with
# pubsub-load (src/bin/pubsub-load.rs): closed-loop publishers and
# subscribers, deliveries per second and publish-to-receive latency.
#
# Both servers run pinned to CPU 0 (taskset -c 0) and stay up for the whole
# run; pubsub-load runs pinned to CPU 1. For every round and every scenario,
# the server under test is measured and then redis-server, so slow drifts in
# machine load hit both alike. The table shows the median deliveries/s over
# the rounds and the ratio server/redis, the median p50 and p99 latency, and
# each server's median CPU use during the runs: a server well below 100% was
# not what limited the run (pubsub-load prints its own CPU use per run).
#
# Scenarios (see pubsub-load --help):
#   fanout    1 publisher -> 100 subscribers of one channel
#   channels  50 publishers -> 50 channels, one subscriber each
#   patterns  1 publisher -> 100 subscribers with distinct matching patterns
#
# Usage: benches/pubsub-vs-redis.sh   (from any directory)
#
# Environment:
#   SERVER_CMD   command for the server under test, "{port}" is replaced by the
#                port (default: target/release/ringbus --threads 1 --port {port},
#                built with `cargo build --release` if missing)
#   SERVER_NAME  label for the server under test (default: ringbus)
#   ROUNDS       alternating rounds (default: 3)
#   SCENARIOS    comma or space separated (default: fanout,channels,patterns)
#   DURATION     seconds measured per run, after pubsub-load's 1 s warm-up
#                (default: 5)
#   LOAD_ARGS    extra pubsub-load flags for every run, e.g.
#                "--window 16 --payload 256"
#   LOAD_TOOL    pubsub-load binary (default: target/release/pubsub-load,
#                built with `cargo build --release --bin pubsub-load` if missing)
#   REDIS_SERVER redis-server binary (default: redis-server)
#   RAW_CSV      if set, append every single run to this CSV file: server,
#                round, then pubsub-load's --csv line
#
# Exits 1 if any run reported delivery errors (lost or out-of-order messages,
# wrong PUBLISH replies, ...), after printing the table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_NAME=${SERVER_NAME:-ringbus}
ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS:-fanout,channels,patterns}
DURATION=${DURATION:-5}
LOAD_ARGS=${LOAD_ARGS:-}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
RAW_CSV=${RAW_CSV:-}

for tool in taskset redis-cli python3 "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

if [[ -z ${LOAD_TOOL:-} ]]; then
    LOAD_TOOL=$TARGET/release/pubsub-load
    if [[ ! -x $LOAD_TOOL ]]; then
        echo "building pubsub-load (release)..." >&2
        cargo build --release --bin pubsub-load --manifest-path "$ROOT/Cargo.toml" >&2
    fi
fi

if [[ -z ${SERVER_CMD:-} ]]; then
    if [[ ! -x $TARGET/release/ringbus ]]; then
        echo "building ringbus (release)..." >&2
        cargo build --release --manifest-path "$ROOT/Cargo.toml" >&2
    fi
    SERVER_CMD="$TARGET/release/ringbus --threads 1 --port {port} --save="
fi

# Servers, ports, CPU time and medians; the comparison driver.
source "$ROOT/benches/servers.sh"
source "$ROOT/benches/loadcompare.sh"

TOOL_NAME=pubsub-load
IFS=', ' read -r -a SCENARIO_LIST <<<"$SCENARIOS"

# The tool's flags for a scenario (one per line), and its name in the table.
scenario_args() {
    printf '%s\n' --scenario "$1"
}

label() {
    echo "$1"
}

compare_load
