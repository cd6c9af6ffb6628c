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
    SERVER_CMD="$TARGET/release/ringbus --threads 1 --port {port}"
fi

# Servers, ports, CPU time and medians.
source "$ROOT/benches/servers.sh"

now_ns() {
    date +%s%N
}

# label SCENARIO -> "4 producers → 4 consumers, 1 queue"
label() {
    local p c q
    IFS=: read -r p c q <<<"$1"
    printf '%s producer%s → %s consumer%s, %s queue%s' \
        "$p" "$([[ $p == 1 ]] || echo s)" "$c" "$([[ $c == 1 ]] || echo s)" \
        "$q" "$([[ $q == 1 ]] || echo s)"
}

# bench PORT PID SCENARIO -> prints queue-load's CSV line followed by the
# server's CPU use in percent of one core over the run. Exits the script if
# queue-load could not run at all (exit status 2: e.g. the server refused
# BRPOP); a run with delivery errors (status 1) is kept and flagged.
bench() {
    local port=$1 pid=$2 scenario=$3
    local before after t0 t1 line status=0 producers consumers queues
    local -a extra
    IFS=: read -r producers consumers queues <<<"$scenario"
    read -r -a extra <<<"$LOAD_ARGS"
    before=$(cpu_ticks "$pid")
    t0=$(now_ns)
    line=$(taskset -c 1 "$LOAD_TOOL" --port "$port" --producers "$producers" \
        --consumers "$consumers" --queues "$queues" \
        --seconds "$DURATION" --csv "${extra[@]}" 2>"$WORKDIR/load.err") || status=$?
    t1=$(now_ns)
    after=$(cpu_ticks "$pid")
    if ((status != 0 && status != 1)) || [[ -z $line ]]; then
        echo "queue-load failed (status $status) on port $port, scenario $scenario:" >&2
        cat "$WORKDIR/load.err" >&2
        exit 1
    fi
    if ((status == 1)); then
        echo "$scenario on port $port: delivery errors: $line" >&2
        echo 1 >>"$WORKDIR/errors"
    fi
    awk -v line="$line" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) \
        'BEGIN { printf "%s,%.0f\n", line, t / hz * 1e9 / ns * 100 }'
}


# record FILE-PREFIX CSV: keeps the fields the table needs, one file each.
# queue-load --csv fields: 5 msgs/s, 7 p50 us, 8 p99 us, 16 tool CPU %;
# bench adds 17, the server's CPU %.
record() {
    local prefix=$1 line=$2
    awk -F, -v p="$prefix" '{
        print $5 >>(p ".msgs"); print $7 >>(p ".p50"); print $8 >>(p ".p99"); print $17 >>(p ".cpu")
    }' <<<"$line"
}

SUT_PORT=$(free_port)
read -r -a SUT_ARGV <<<"${SERVER_CMD//\{port\}/$SUT_PORT}"
start "$SERVER_NAME" "$SUT_PORT" "${SUT_ARGV[@]}"
SUT_PID=$STARTED_PID

REDIS_PORT=$(free_port)
start redis "$REDIS_PORT" "$REDIS_SERVER" --port "$REDIS_PORT" \
    --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile ''
REDIS_PID=$STARTED_PID

echo "$SERVER_NAME: ${SUT_ARGV[*]} (port $SUT_PORT); redis: $("$REDIS_SERVER" --version | awk '{print $3}') (port $REDIS_PORT)" >&2
echo "queue-load: $LOAD_TOOL --seconds $DURATION $LOAD_ARGS" >&2

for ((round = 1; round <= ROUNDS; round++)); do
    for scenario in "${SCENARIO_LIST[@]}"; do
        sut=$(bench "$SUT_PORT" "$SUT_PID" "$scenario")
        redis=$(bench "$REDIS_PORT" "$REDIS_PID" "$scenario")
        for pid in "$SUT_PID" "$REDIS_PID"; do
            kill -0 "$pid" 2>/dev/null || { echo "server pid $pid died" >&2; exit 1; }
        done
        record "$WORKDIR/$scenario.sut" "$sut"
        record "$WORKDIR/$scenario.redis" "$redis"
        for pair in "$SERVER_NAME:$sut" "redis:$redis"; do
            awk -F, -v round="$round" -v name="${pair%%:*}" -v s="$scenario" '{
                printf "round %d  %-7s %-8s %10.0f msgs/s  p50 %8.1f us  p99 %8.1f us  server CPU %3d%%  tool CPU %3d%%\n",
                    round, s, name, $5, $7, $8, $17, $16 }' <<<"${pair#*:}" >&2
        done
        if [[ -n $RAW_CSV ]]; then
            echo "$SERVER_NAME,$round,$sut" >>"$RAW_CSV"
            echo "redis,$round,$redis" >>"$RAW_CSV"
        fi
    done
done

echo "| scenario | $SERVER_NAME msgs/s | redis msgs/s | ratio | $SERVER_NAME p50/p99 µs | redis p50/p99 µs | server CPU % $SERVER_NAME/redis |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for scenario in "${SCENARIO_LIST[@]}"; do
    declare -A m=()
    for side in sut redis; do
        for field in msgs p50 p99 cpu; do
            m[$side.$field]=$(median <"$WORKDIR/$scenario.$side.$field")
        done
    done
    awk -v s="$(label "$scenario")" -v a="${m[sut.msgs]}" -v b="${m[redis.msgs]}" \
        -v a50="${m[sut.p50]}" -v a99="${m[sut.p99]}" -v b50="${m[redis.p50]}" -v b99="${m[redis.p99]}" \
        -v acpu="${m[sut.cpu]}" -v bcpu="${m[redis.cpu]}" 'BEGIN {
        printf "| %s | %.0f | %.0f | %.2f | %.1f / %.1f | %.1f / %.1f | %.0f / %.0f |\n",
            s, a, b, (b > 0 ? a / b : 0), a50, a99, b50, b99, acpu, bcpu }'
done

if [[ -s $WORKDIR/errors ]]; then
    echo "$(wc -l <"$WORKDIR/errors") run(s) reported delivery errors (see above)" >&2
    exit 1
fi
