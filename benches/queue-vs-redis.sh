#!/usr/bin/env bash
# Compare the list queues (LPUSH / BRPOP) of a server under test against
# redis-server with queue-load (src/bin/queue-load.rs): closed-loop producers
# and consumers, messages consumed per second and push-to-pop latency.
#
# Both servers run pinned to CPU 0 (taskset -c 0) and stay up for the whole
# run; queue-load runs pinned to CPU 1. For every round and every scenario,
# the server under test is measured and then redis-server, so slow drifts in
# machine load hit both alike. The table shows the median messages consumed/s
# over the rounds and the ratio server/redis, the median p50 and p99 latency,
# and each server's median CPU use during the runs: a server well below 100%
# was not what limited the run (queue-load prints its own CPU use per run).
#
# Scenarios, as PRODUCERS:CONSUMERS:QUEUES (see queue-load --help):
#   4:4:1   4 producers -> 4 consumers, 1 queue
#   8:8:8   8 producers -> 8 consumers, 8 queues (every producer feeds every
#           queue, every consumer BRPOPs all of them)
#
# Usage: benches/queue-vs-redis.sh   (from any directory)
#
# Environment:
#   SERVER_CMD   command for the server under test, "{port}" is replaced by the
#                port (default: target/release/ringbus --threads 1 --port {port},
#                built with `cargo build --release` if missing)
#   SERVER_NAME  label for the server under test (default: ringbus)
#   ROUNDS       alternating rounds (default: 3)
#   SCENARIOS    PRODUCERS:CONSUMERS:QUEUES triples, comma or space separated
#                (default: 4:4:1,8:8:8)
#   DURATION     seconds measured per run, after queue-load's 1 s warm-up
#                (default: 5)
#   LOAD_ARGS    extra queue-load flags for every run (not --producers,
#                --consumers or --queues: SCENARIOS sets those), e.g.
#                "--window 100 --consumer-pipeline 4 --payload 256"
#   LOAD_TOOL    queue-load binary (default: target/release/queue-load,
#                built with `cargo build --release --bin queue-load` if missing)
#   REDIS_SERVER redis-server binary (default: redis-server)
#   RAW_CSV      if set, append every single run to this CSV file: server,
#                round, then queue-load's --csv line
#
# Exits 1 if any run reported delivery errors (lost or duplicated messages,
# unexpected replies, missing LPUSH replies), after printing the table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_NAME=${SERVER_NAME:-ringbus}
ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS:-4:4:1,8:8:8}
DURATION=${DURATION:-5}
LOAD_ARGS=${LOAD_ARGS:-}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
RAW_CSV=${RAW_CSV:-}

for tool in taskset redis-cli python3 "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

IFS=', ' read -r -a SCENARIO_LIST <<<"$SCENARIOS"
for scenario in "${SCENARIO_LIST[@]}"; do
    [[ $scenario =~ ^[1-9][0-9]*:[1-9][0-9]*:[1-9][0-9]*$ ]] || {
        echo "bad scenario '$scenario': expected PRODUCERS:CONSUMERS:QUEUES, e.g. 4:4:1" >&2
        exit 1
    }
done

if [[ -z ${LOAD_TOOL:-} ]]; then
    LOAD_TOOL=$TARGET/release/queue-load
    if [[ ! -x $LOAD_TOOL ]]; then
        echo "building queue-load (release)..." >&2
        cargo build --release --bin queue-load --manifest-path "$ROOT/Cargo.toml" >&2
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

TOOL_NAME=queue-load

# The tool's flags for a PRODUCERS:CONSUMERS:QUEUES scenario, one per line.
scenario_args() {
    local p c q
    IFS=: read -r p c q <<<"$1"
    printf '%s\n' --producers "$p" --consumers "$c" --queues "$q"
}

# label SCENARIO -> "4 producers → 4 consumers, 1 queue"
label() {
    local p c q
    IFS=: read -r p c q <<<"$1"
    printf '%s producer%s → %s consumer%s, %s queue%s' \
        "$p" "$([[ $p == 1 ]] || echo s)" "$c" "$([[ $c == 1 ]] || echo s)" \
        "$q" "$([[ $q == 1 ]] || echo s)"
}

compare_load
