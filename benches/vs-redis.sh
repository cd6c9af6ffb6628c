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
#                lrange_600,sadd,hset,spop,zadd,zpopmin,evalsha; redis-benchmark
#                fills the list for an lrange test with as many LPUSHes as
#                requests first: that row is skipped, but its CPU time counts in
#                the test's CPU per request. `evalsha` is not a redis-benchmark
#                test: it is `EVALSHA <sha> 1 evalsha:counter` of a script doing
#                one INCR, loaded with SCRIPT LOAD on both servers first;
#                `zunionstore` is not one either: it is `ZUNIONSTORE zu:dst 2
#                zu:a zu:b` of two 5-member sorted sets (3 members shared),
#                written the same way on both servers first;
#                `pfadd` is `PFADD hll __rand_int__` with -r 100000: random
#                elements into one HyperLogLog, deleted on both servers
#                before each run so every run has its sparse phase too;
#                `bitcount` is `BITCOUNT bitcount:key` of a 1 KB string set on
#                both servers first; `setbit` is `SETBIT setbit:<random> 100 1`
#                over 8192 keys, -r 8192: redis-benchmark pads __rand_int__
#                with zeros, which no offset may have;
#                `geoadd` is `GEOADD geo:bench <r>e-4 <r>e-4 m:<r>` with
#                redis-benchmark's random numbers (-r 100000, a random place
#                and member per request), into a key deleted on both servers
#                before each run)
#   PIPELINES    pipeline depths (default: "1 16")
#   CLIENTS      parallel connections, -c (default: 50)
#   REQUESTS     requests per run, -n (default: 200000 x pipeline depth,
#                which is >= ~2 s per run for both servers on a laptop-class core)
#   REDIS_SERVER redis-server binary (default: redis-server)
#   RAW_CSV      if set, append every single run to this CSV file
#   BASELINE_CMD a second build of the server under test (e.g. the previous
#                commit's binary), "{port}" replaced as in SERVER_CMD: run in
#                the same alternating rounds, with two more columns, its CPU
#                per request and its CPU divided by the server under test's
#                (>1: the new build uses less)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER_NAME=${SERVER_NAME:-ringbus}
ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-ping_mbulk,set,get,incr,mset,lpush,rpush,lpop,rpop,lrange_100,lrange_600,sadd,hset,spop,zadd,zpopmin,evalsha}
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
RAW_CSV=${RAW_CSV:-}
EVAL_SCRIPT="return redis.call('incr', KEYS[1])"
# 1 KB of text, the bitmap of the `bitcount` test.
BITMAP=$(python3 -c "print('bitmaps!' * 128, end='')")

# The two small sorted sets of the zunionstore test, on the server at port $1.
prepare_zunionstore() {
    redis-cli -p "$1" DEL zu:a zu:b zu:dst >/dev/null
    redis-cli -p "$1" ZADD zu:a 1 a 2 b 3 c 4 d 5 e >/dev/null
    redis-cli -p "$1" ZADD zu:b 1.5 c 2.5 d 3.5 e 4.5 f 5.5 g >/dev/null
}

for tool in taskset redis-benchmark redis-cli python3 "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

if [[ -z ${SERVER_CMD:-} ]]; then
    if [[ ! -x $ROOT/target/release/ringbus ]]; then
        echo "building ringbus (release)..." >&2
        cargo build --release --manifest-path "$ROOT/Cargo.toml" >&2
    fi
    SERVER_CMD="$ROOT/target/release/ringbus --threads 1 --port {port} --save="
fi

# Servers, ports, CPU time, redis-benchmark and medians.
source "$ROOT/benches/servers.sh"

start_pair
BASELINE_CMD=${BASELINE_CMD:-}
if [[ -n $BASELINE_CMD ]]; then
    BASE_PORT=$(free_port)
    read -r -a BASE_ARGV <<<"${BASELINE_CMD//\{port\}/$BASE_PORT}"
    start baseline "$BASE_PORT" "${BASE_ARGV[@]}"
    BASE_PID=$STARTED_PID
    echo "baseline: ${BASE_ARGV[*]} (port $BASE_PORT)" >&2
fi

IFS=', ' read -r -a TEST_LIST <<<"$TESTS"
read -r -a PIPELINE_LIST <<<"$PIPELINES"

for ((round = 1; round <= ROUNDS; round++)); do
    for test in "${TEST_LIST[@]}"; do
        for p in "${PIPELINE_LIST[@]}"; do
            n=${REQUESTS:-$((200000 * p))}
            case $test in
            evalsha)
                # A small script, loaded on both servers: EVALSHA of one INCR.
                sha=$(redis-cli -p "$SUT_PORT" SCRIPT LOAD "$EVAL_SCRIPT")
                redis-cli -p "$REDIS_PORT" SCRIPT LOAD "$EVAL_SCRIPT" >/dev/null
                args=(EVALSHA "$sha" 1 "evalsha:counter")
                ;;
            zunionstore)
                for port in "$SUT_PORT" "$REDIS_PORT" ${BASE_PORT:+"$BASE_PORT"}; do
                    prepare_zunionstore "$port"
                done
                args=(ZUNIONSTORE zu:dst 2 zu:a zu:b)
                ;;
            pfadd)
                redis-cli -p "$SUT_PORT" DEL hll >/dev/null
                redis-cli -p "$REDIS_PORT" DEL hll >/dev/null
                [[ -z $BASELINE_CMD ]] || redis-cli -p "$BASE_PORT" DEL hll >/dev/null
                args=(-r 100000 PFADD hll __rand_int__)
                ;;
            bitcount)
                # The same 1 KB bitmap on every server.
                for port in "$SUT_PORT" "$REDIS_PORT" ${BASE_PORT:+"$BASE_PORT"}; do
                    redis-cli -p "$port" SET bitcount:key "$BITMAP" >/dev/null
                done
                args=(BITCOUNT bitcount:key)
                ;;
            setbit)
                args=(-r 8192 SETBIT setbit:__rand_int__ 100 1)
                ;;
            geoadd)
                # Each run starts from no key, on every server alike.
                for port in "$SUT_PORT" "$REDIS_PORT" ${BASE_PORT:+"$BASE_PORT"}; do
                    redis-cli -p "$port" DEL geo:bench >/dev/null
                done
                args=(-r 100000 GEOADD geo:bench "__rand_int__e-4" "__rand_int__e-4" "m:__rand_int__")
                ;;
            *)
                args=(-t "$test")
                ;;
            esac
            read -r sut sut_cpu <<<"$(rb_bench "$SUT_PORT" "$SUT_PID" "$n" "$p" "${args[@]}")"
            read -r redis redis_cpu <<<"$(rb_bench "$REDIS_PORT" "$REDIS_PID" "$n" "$p" "${args[@]}")"
            if [[ -n $BASELINE_CMD ]]; then
                if [[ $test == evalsha ]]; then
                    redis-cli -p "$BASE_PORT" SCRIPT LOAD "$EVAL_SCRIPT" >/dev/null
                fi
                read -r base base_cpu <<<"$(rb_bench "$BASE_PORT" "$BASE_PID" "$n" "$p" "${args[@]}")"
                kill -0 "$BASE_PID" 2>/dev/null || { echo "baseline died" >&2; exit 1; }
                echo "$base_cpu" >>"$WORKDIR/$test.$p.base_cpu"
            fi
            pair_alive
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
header=(test P "$SERVER_NAME" redis ratio "cpu-us" "redis-us" "cpu-x")
[[ -z $BASELINE_CMD ]] || header+=("base-us" "vs-base")
printf '%-12s %4s %14s %14s %7s %9s %9s %9s' "${header[@]:0:8}"
[[ -z $BASELINE_CMD ]] || printf ' %9s %8s' "${header[@]:8}"
echo
for test in "${TEST_LIST[@]}"; do
    for p in "${PIPELINE_LIST[@]}"; do
        sut=$(median <"$WORKDIR/$test.$p.sut")
        redis=$(median <"$WORKDIR/$test.$p.redis")
        sut_cpu=$(median <"$WORKDIR/$test.$p.sut_cpu")
        redis_cpu=$(median <"$WORKDIR/$test.$p.redis_cpu")
        ratio=$(awk -v a="$sut" -v b="$redis" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        cpux=$(awk -v a="$sut_cpu" -v b="$redis_cpu" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
        printf '%-12s %4s %14.0f %14.0f %7s %9.3f %9.3f %9s' \
            "$test" "$p" "$sut" "$redis" "$ratio" "$sut_cpu" "$redis_cpu" "$cpux"
        if [[ -n $BASELINE_CMD ]]; then
            base_cpu=$(median <"$WORKDIR/$test.$p.base_cpu")
            vsbase=$(awk -v a="$sut_cpu" -v b="$base_cpu" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')
            printf ' %9.3f %8s' "$base_cpu" "$vsbase"
        fi
        echo
    done
done
