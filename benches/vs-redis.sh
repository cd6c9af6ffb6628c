#!/usr/bin/env bash
# Compare a server under test against redis-server with redis-benchmark.
#
# Both servers run pinned to CPU 0 (taskset -c 0) and stay up for the whole
# run; redis-benchmark runs pinned to CPU 1. For every round, every test and
# every pipeline depth, the server under test is benchmarked and then
# redis-server, so slow drifts in machine load hit both alike. The table shows
# the median requests/s over the rounds and the ratio server/redis, and each
# server's CPU time per request (from /proc), which still tells the servers
# apart when the single benchmark client is what limits requests/s.
#
# Usage: benches/vs-redis.sh
#
# Environment:
#   SERVER_CMD   command for the server under test, "{port}" is replaced by the
#                port (default: target/release/ringbus --threads 1 --port {port},
#                built with `cargo build --release` if missing)
#   SERVER_NAME  label for the server under test (default: ringbus)
#   ROUNDS       alternating rounds (default: 3)
#   TESTS        redis-benchmark tests, comma or space separated (default:
#                ping_mbulk,set,get,incr,mset,lpush,rpush,lpop,rpop,lrange_100,
#                lrange_600; redis-benchmark fills the list for an lrange test
#                with as many LPUSHes as requests first: that row is skipped, but
#                its CPU time counts in the test's CPU per request)
#   PIPELINES    pipeline depths (default: "1 16")
#   CLIENTS      parallel connections, -c (default: 50)
#   REQUESTS     requests per run, -n (default: 200000 x pipeline depth,
#                which is >= ~2 s per run for both servers on a laptop-class core)
#   REDIS_SERVER redis-server binary (default: redis-server)
#   RAW_CSV      if set, append every single run to this CSV file
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER_NAME=${SERVER_NAME:-ringbus}
ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-ping_mbulk,set,get,incr,mset,lpush,rpush,lpop,rpop,lrange_100,lrange_600}
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
RAW_CSV=${RAW_CSV:-}

for tool in taskset redis-benchmark redis-cli python3 "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

if [[ -z ${SERVER_CMD:-} ]]; then
    if [[ ! -x $ROOT/target/release/ringbus ]]; then
        echo "building ringbus (release)..." >&2
        cargo build --release --manifest-path "$ROOT/Cargo.toml" >&2
    fi
    SERVER_CMD="$ROOT/target/release/ringbus --threads 1 --port {port}"
fi

# Servers, ports, CPU time and medians.
source "$ROOT/benches/servers.sh"

# bench PORT PID TEST PIPELINE -> prints "requests/s server-CPU-microseconds-per-request"
# (empty on failure). The CPU figure matters when the benchmark client, not the
# server, is the bottleneck: then requests/s ties while CPU per request differs.
bench() {
    local port=$1 pid=$2 test=$3 pipeline=$4
    local n=${REQUESTS:-$((200000 * pipeline))}
    local before after rps
    before=$(cpu_ticks "$pid")
    rps=$(taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" \
        -P "$pipeline" -t "$test" --csv -q 2>/dev/null |
        awk -F'","' 'NR > 1 { rps = $2 } END { if (rps != "") print rps }')
    after=$(cpu_ticks "$pid")
    [[ -n $rps ]] || return 0
    awk -v rps="$rps" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$n" \
        'BEGIN { printf "%s %.3f\n", rps, t / hz * 1e6 / n }'
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

IFS=', ' read -r -a TEST_LIST <<<"$TESTS"
read -r -a PIPELINE_LIST <<<"$PIPELINES"

for ((round = 1; round <= ROUNDS; round++)); do
    for test in "${TEST_LIST[@]}"; do
        for p in "${PIPELINE_LIST[@]}"; do
            read -r sut sut_cpu <<<"$(bench "$SUT_PORT" "$SUT_PID" "$test" "$p")"
            read -r redis redis_cpu <<<"$(bench "$REDIS_PORT" "$REDIS_PID" "$test" "$p")"
            for pid in "$SUT_PID" "$REDIS_PID"; do
                kill -0 "$pid" 2>/dev/null || { echo "server pid $pid died" >&2; exit 1; }
            done
            if [[ -z $sut || -z $redis ]]; then
                echo "redis-benchmark failed: $test P=$p" >&2
                exit 1
            fi
            echo "$sut" >>"$WORKDIR/$test.$p.sut"
            echo "$redis" >>"$WORKDIR/$test.$p.redis"
            echo "$sut_cpu" >>"$WORKDIR/$test.$p.sut_cpu"
            echo "$redis_cpu" >>"$WORKDIR/$test.$p.redis_cpu"
            printf 'round %d  %-10s P=%-3s %s=%-12s redis=%s\n' \
                "$round" "$test" "$p" "$SERVER_NAME" "$sut" "$redis" >&2
            if [[ -n $RAW_CSV ]]; then
                echo "$SERVER_NAME,$round,$test,$p,$sut,$redis" >>"$RAW_CSV"
            fi
        done
    done
done

# rps columns: median requests/s and their ratio. cpu columns: median server
# CPU microseconds per request, and redis's divided by ours (>1: we use less).
printf '%-12s %4s %14s %14s %7s %9s %9s %9s\n' test P "$SERVER_NAME" redis ratio "cpu-us" "redis-us" "cpu-x"
for test in "${TEST_LIST[@]}"; do
    for p in "${PIPELINE_LIST[@]}"; do
        sut=$(median <"$WORKDIR/$test.$p.sut")
        redis=$(median <"$WORKDIR/$test.$p.redis")
        sut_cpu=$(median <"$WORKDIR/$test.$p.sut_cpu")
        redis_cpu=$(median <"$WORKDIR/$test.$p.redis_cpu")
        ratio=$(awk -v a="$sut" -v b="$redis" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        cpux=$(awk -v a="$sut_cpu" -v b="$redis_cpu" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
        printf '%-12s %4s %14.0f %14.0f %7s %9.3f %9.3f %9s\n' \
            "$test" "$p" "$sut" "$redis" "$ratio" "$sut_cpu" "$redis_cpu" "$cpux"
    done
done
