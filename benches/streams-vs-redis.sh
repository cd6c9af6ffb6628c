#!/usr/bin/env bash
# Compare the streams of a server under test against redis-server.
#
# Both servers run pinned to CPU 0 (taskset -c 0) and stay up for the whole
# run; the load (redis-benchmark, queue-load) runs pinned to CPU 1. For every
# round and every row, the server under test is measured and then
# redis-server, so slow drifts in machine load hit both alike. The table
# shows the medians over the rounds and the ratio server/redis. Rows:
#
#   xadd P=N       redis-benchmark -c CLIENTS -P N  XADD s * f v  (the key is
#                  deleted before every run), requests/s
#   xrange100 P=N  redis-benchmark -c CLIENTS -P N  XRANGE r 500-0 + COUNT 100
#                  on a stream preloaded with entries 1-0 .. 1000-0, requests/s
#   xreadgroup     queue-load --kind stream (src/bin/queue-load.rs): closed-loop
#                  XADD producers and consumers looping on XREADGROUP GROUP ...
#                  COUNT ... BLOCK 1000 STREAMS s > and XACK in one consumer
#                  group; entries delivered/s and XADD-to-delivery latency;
#                  every entry checked to be delivered exactly once, every
#                  XACK to acknowledge all its IDs, and XPENDING to be 0 at
#                  the end
#   memory         used_memory (INFO memory) after minus before loading
#                  MEMORY_ENTRIES entries of one field with a 10-byte value
#                  (XADD mem * f 0123456789, redis-benchmark -c 1 -P 100),
#                  divided by XLEN: bytes per entry (lower is better)
#
# The detail columns: the server's CPU microseconds per request for the
# redis-benchmark rows (which still tells the servers apart when the one
# benchmark client is what limits requests/s), p50/p99 latency in µs and the
# server's CPU use in % of one core for xreadgroup, and the used_memory delta
# in MB for memory. The loop of queue-load is closed (at most --window, 1000,
# messages in flight), so its latency is about window / throughput; pass
# LOAD_ARGS="--count 10 --window 100" to look at latency instead.
#
# Usage: benches/streams-vs-redis.sh   (from any directory; ~1.5 minutes)
#
# To try the script where the server under test has no streams yet, point it
# at a second redis-server:
#   SERVER_NAME=redis2 SERVER_CMD="redis-server --port {port} --save '' --appendonly no" \
#       benches/streams-vs-redis.sh
#
# Environment:
#   SERVER_CMD   command for the server under test, "{port}" is replaced by the
#                port (default: target/release/ringbus --threads 1 --port {port},
#                built with `cargo build --release` if missing; target/ is
#                CARGO_TARGET_DIR if set)
#   SERVER_NAME  label for the server under test (default: ringbus)
#   ROUNDS       alternating rounds (default: 3)
#   PIPELINES    pipeline depths of the xadd and xrange100 rows (default: "1 16")
#   CLIENTS      redis-benchmark connections, -c (default: 50)
#   XADD_REQUESTS    XADDs per run and pipeline level: -n is this times the
#                    pipeline depth (default: 100000)
#   XRANGE_REQUESTS  XRANGEs per run, -n (default: 50000)
#   SCENARIO     xreadgroup's PRODUCERS:CONSUMERS:STREAMS (default: 4:10:1)
#   DURATION     seconds measured per xreadgroup run, after queue-load's 1 s
#                warm-up (default: 3)
#   LOAD_ARGS    extra queue-load flags (not --kind, --producers, --consumers
#                or --queues; default: "--count 10")
#   LOAD_TOOL    queue-load binary (default: target/release/queue-load, built
#                with `cargo build --release --bin queue-load` if missing)
#   MEMORY_ENTRIES   entries loaded for the memory row (default: 1000000)
#   REDIS_SERVER redis-server binary (default: redis-server)
#   RAW_CSV      if set, append every single run to this CSV file: server,
#                round, row, value, then the row's details
#
# Exits 1 if any xreadgroup run reported delivery errors, after printing the
# table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER_NAME=${SERVER_NAME:-ringbus}
ROUNDS=${ROUNDS:-3}
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
XADD_REQUESTS=${XADD_REQUESTS:-100000}
XRANGE_REQUESTS=${XRANGE_REQUESTS:-50000}
SCENARIO=${SCENARIO:-4:10:1}
DURATION=${DURATION:-3}
LOAD_ARGS=${LOAD_ARGS:---count 10}
MEMORY_ENTRIES=${MEMORY_ENTRIES:-1000000}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
RAW_CSV=${RAW_CSV:-}

for tool in taskset redis-benchmark redis-cli python3 "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
[[ $SCENARIO =~ ^[1-9][0-9]*:[1-9][0-9]*:[1-9][0-9]*$ ]] || {
    echo "bad SCENARIO '$SCENARIO': expected PRODUCERS:CONSUMERS:STREAMS, e.g. 4:10:1" >&2
    exit 1
}

# Servers, ports, CPU time, redis-benchmark and medians; the load tool's runs.
source "$ROOT/benches/servers.sh"
source "$ROOT/benches/loadcompare.sh"

TOOL_NAME=queue-load
LOAD_TOOL=${LOAD_TOOL:-$(release_bin queue-load)}
SERVER_CMD=${SERVER_CMD:-"$(release_bin ringbus) --threads 1 --port {port} --save="}

# queue-load's flags for a PRODUCERS:CONSUMERS:STREAMS scenario, one per line.
scenario_args() {
    local p c q
    IFS=: read -r p c q <<<"$1"
    printf '%s\n' --kind stream --producers "$p" --consumers "$c" --queues "$q"
}

cli() {
    local port=$1
    shift
    redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# preload PORT: the stream r holds entries 1-0 .. 1000-0 (f v), and XRANGE
# from 500-0 brings 100 of them.
preload() {
    local port=$1 lines
    cli "$port" DEL r >/dev/null
    seq 1 1000 | awk '{ print "XADD r " $1 "-0 f v" }' | cli "$port" >/dev/null
    lines=$(cli "$port" XRANGE r 500-0 + COUNT 100 | wc -l)
    if [[ $(cli "$port" XLEN r) != 1000 || $lines != 300 ]]; then
        echo "port $port: preloading the stream r failed (XLEN $(cli "$port" XLEN r), XRANGE $lines lines)" >&2
        exit 1
    fi
}

# memory PORT: prints "bytes-per-entry delta-MB" for MEMORY_ENTRIES entries of
# the stream mem, loaded with pipelined XADDs; deletes it again.
memory() {
    local port=$1 before after len
    cli "$port" DEL mem >/dev/null
    before=$(used_memory "$port")
    taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$port" -c 1 -P 100 -n "$MEMORY_ENTRIES" \
        -q XADD mem '*' f 0123456789 >/dev/null 2>&1 || true
    after=$(used_memory "$port")
    len=$(cli "$port" XLEN mem)
    cli "$port" DEL mem >/dev/null
    if [[ ! $len -gt 0 ]]; then
        echo "port $port: loading the stream mem failed (XLEN '$len')" >&2
        exit 1
    fi
    if [[ $len != "$MEMORY_ENTRIES" ]]; then
        echo "port $port: XLEN mem is $len, not $MEMORY_ENTRIES" >&2
    fi
    awk -v a="$after" -v b="$before" -v n="$len" 'BEGIN { printf "%.1f %.1f\n", (a - b) / n, (a - b) / 1e6 }'
}

used_memory() {
    cli "$1" INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'
}

# measure ROW SIDE PORT PID: one run of ROW against one server; prints "value
# detail".
measure() {
    local row=$1 side=$2 port=$3 pid=$4 p line
    case $row in
    xadd.*)
        p=${row#xadd.}
        cli "$port" DEL s >/dev/null
        rb_bench "$port" "$pid" $((XADD_REQUESTS * p)) "$p" XADD s '*' f v
        ;;
    xrange100.*)
        p=${row#xrange100.}
        rb_bench "$port" "$pid" "$XRANGE_REQUESTS" "$p" XRANGE r 500-0 + COUNT 100
        ;;
    xreadgroup)
        line=$(bench "$port" "$pid" "$SCENARIO")
        [[ -z $RAW_CSV ]] || echo "$side,queue-load,$line" >>"$WORKDIR/load.csv"
        awk -F, '{ printf "%s %.1f/%.1f/%.0f\n", $5, $7, $8, $NF }' <<<"$line"
        ;;
    memory)
        memory "$port"
        ;;
    esac
}

# record_run PREFIX VALUE DETAIL: keeps a run's value, and each part of its
# detail ("a/b/c" for xreadgroup), one file each.
record_run() {
    local prefix=$1 i
    local -a parts
    echo "$2" >>"$WORKDIR/$prefix"
    IFS=/ read -r -a parts <<<"$3"
    for i in "${!parts[@]}"; do
        echo "${parts[$i]}" >>"$WORKDIR/$prefix.d$i"
    done
}

start_pair
preload "$SUT_PORT"
preload "$REDIS_PORT"
echo "$TOOL_NAME: $LOAD_TOOL --seconds $DURATION $LOAD_ARGS, scenario $SCENARIO" >&2

ROWS=()
for p in $PIPELINES; do ROWS+=("xadd.$p"); done
for p in $PIPELINES; do ROWS+=("xrange100.$p"); done
ROWS+=(xreadgroup memory)

for ((round = 1; round <= ROUNDS; round++)); do
    for row in "${ROWS[@]}"; do
        read -r sut sut_detail <<<"$(measure "$row" "$SERVER_NAME" "$SUT_PORT" "$SUT_PID")"
        read -r redis redis_detail <<<"$(measure "$row" redis "$REDIS_PORT" "$REDIS_PID")"
        pair_alive
        if [[ -z $sut || -z $redis ]]; then
            echo "run failed: $row ($SERVER_NAME: '$sut', redis: '$redis')" >&2
            exit 1
        fi
        record_run "$row.sut" "$sut" "$sut_detail"
        record_run "$row.redis" "$redis" "$redis_detail"
        printf 'round %d  %-12s %s=%-12s (%s)  redis=%-12s (%s)\n' "$round" "$row" \
            "$SERVER_NAME" "$sut" "$sut_detail" "$redis" "$redis_detail" >&2
        if [[ -n $RAW_CSV ]]; then
            echo "$SERVER_NAME,$round,$row,$sut,$sut_detail" >>"$RAW_CSV"
            echo "redis,$round,$row,$redis,$redis_detail" >>"$RAW_CSV"
        fi
    done
done
if [[ -n $RAW_CSV && -s $WORKDIR/load.csv ]]; then
    cat "$WORKDIR/load.csv" >>"$RAW_CSV"
fi

# detail ROW SIDE: the medians of the row's details, as the table shows them.
detail() {
    local row=$1 side=$2 i
    local -a m=()
    for ((i = 0; ; i++)); do
        [[ -f $WORKDIR/$row.$side.d$i ]] || break
        m+=("$(median <"$WORKDIR/$row.$side.d$i")")
    done
    case $row in
    xadd.* | xrange100.*) printf '%.3f µs/req' "${m[0]}" ;;
    xreadgroup) printf '%.1f / %.1f µs, CPU %.0f%%' "${m[0]}" "${m[1]}" "${m[2]}" ;;
    memory) printf '%.1f MB' "${m[0]}" ;;
    esac
}

label() {
    case $1 in
    xadd.*) echo "XADD s * f v, P=${1#xadd.} (req/s)" ;;
    xrange100.*) echo "XRANGE 100 entries, P=${1#xrange100.} (req/s)" ;;
    xreadgroup)
        IFS=: read -r p c q <<<"$SCENARIO"
        echo "XREADGROUP+XACK, $p producers → $c consumers, $q stream(s) (msgs/s)"
        ;;
    memory) echo "memory, $MEMORY_ENTRIES entries (bytes/entry)" ;;
    esac
}

echo "| row | $SERVER_NAME | redis | ratio | $SERVER_NAME detail | redis detail |"
echo "|---|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
    sut=$(median <"$WORKDIR/$row.sut")
    redis=$(median <"$WORKDIR/$row.redis")
    awk -v s="$(label "$row")" -v a="$sut" -v b="$redis" \
        -v da="$(detail "$row" sut)" -v db="$(detail "$row" redis)" 'BEGIN {
        f = (a < 1000 && b < 1000) ? "%.1f" : "%.0f"
        printf "| %s | " f " | " f " | %.2f | %s | %s |\n", s, a, b, (b > 0 ? a / b : 0), da, db }'
done

if [[ -s $WORKDIR/errors ]]; then
    echo "$(wc -l <"$WORKDIR/errors") xreadgroup run(s) reported delivery errors (see above)" >&2
    exit 1
fi
