#!/usr/bin/env bash
# Job-queue throughput of BullMQ, RQ and Celery, unchanged, on redis-server,
# `ringbus --threads 1` and `ringbus --threads 2`, in one run.
#
# Pinning: redis-server and `ringbus --threads 1` run on CPU 0 (taskset -c 0),
# the load (the library's producer and worker processes) on CPU 1, as in
# benches/servers.sh. `ringbus --threads 2` necessarily uses both CPUs: it is
# started under taskset -c 0-1 (executors unpinned, the default, so the kernel
# may move the busy one off the CPU the load uses; T2_FLAGS=--pin pins one to
# each) and so shares CPU 1 with the load; its numbers are not a like-for-like
# comparison with the one-CPU servers, rather what a second core gives or
# costs on a 2-CPU machine. All three servers stay up for the whole run (idle ones use no CPU).
#
# Per library and server, one run (the program empties the server first):
#   BullMQ  benches/bullmq-load.mjs: a Queue adds JOBS jobs with one addBulk
#           (removeOnComplete: true), then a Worker with concurrency
#           BULLMQ_CONCURRENCY and a no-op processor completes them; twice, with
#           the key prefix `bull` (a queue's keys spread over ringbus's shards)
#           and `{bull}` (all in one hash slot, so on one shard).
#   RQ      benches/jobs_load.py rq: Queue.enqueue_many of JOBS no-op jobs, then
#           one in-process SimpleWorker in burst mode (no fork per job).
#   Celery  benches/jobs_load.py celery: JOBS apply_async of a no-op task
#           (results ignored, no backend), then a worker already started
#           (threads pool, CELERY_CONCURRENCY threads) is told to consume them.
# Adding and processing are timed apart: jobs/s added, jobs/s processed, and
# the server's CPU time (utime + stime from /proc/PID/stat) over the
# processing phase per job, in µs. Every run checks that every job completed.
#
# Rounds alternate the order of the servers (redis, t1, t2 / t2, t1, redis)
# for every library; the table shows medians over ROUNDS rounds and the
# processing rate relative to redis-server.
#
# Usage: benches/jobs-vs-redis.sh   (from any directory)
#
# Environment:
#   ROUNDS              alternating rounds (default: 3)
#   JOBS                jobs per run (default: 5000)
#   LIBS                rows to run, among bullmq, bullmq-hashtag, rq, celery
#                       (default: all four)
#   BULLMQ_CONCURRENCY  BullMQ Worker concurrency (default: 50)
#   CELERY_CONCURRENCY  Celery worker threads (default: 4)
#   REDIS_SERVER        redis-server binary (default: redis-server)
#   T2_FLAGS            extra flags for `ringbus --threads 2` (e.g. --pin)
#   RAW_CSV             if set, append every run to this CSV file: round,
#                       library, server, jobs, add s, process s, server ticks
#
# Needs node and the venv and node_modules of the end-to-end tests; it
# installs them as tests/run.sh does (tests/e2e/setup.sh). Builds
# target/release/ringbus if missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-5000}
LIBS=${LIBS:-bullmq bullmq-hashtag rq celery}
BULLMQ_CONCURRENCY=${BULLMQ_CONCURRENCY:-50}
CELERY_CONCURRENCY=${CELERY_CONCURRENCY:-4}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
RAW_CSV=${RAW_CSV:-}
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in benches/

for tool in taskset redis-cli python3 node "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
read -r -a LIB_LIST <<<"${LIBS//,/ }"
for lib in "${LIB_LIST[@]}"; do
    case $lib in
    bullmq | bullmq-hashtag | rq | celery) ;;
    *) echo "unknown library '$lib' in LIBS (bullmq, bullmq-hashtag, rq, celery)" >&2; exit 1 ;;
    esac
done

# RINGBUS_E2E_PYTHON (Celery, RQ) and RINGBUS_E2E_NODE (BullMQ).
source "$ROOT/tests/e2e/setup.sh"
[[ -x $RINGBUS_E2E_PYTHON && -f $RINGBUS_E2E_NODE/node_modules/bullmq/package.json ]] || {
    echo "the end-to-end packages could not be installed (see above)" >&2
    exit 1
}

# Servers, ports, CPU ticks, medians.
source "$ROOT/benches/servers.sh"
RINGBUS=$(release_bin ringbus)
HZ=$(getconf CLK_TCK)

SERVERS=(redis t1 t2)
declare -A NAME=([redis]="redis-server" [t1]="ringbus --threads 1" [t2]="ringbus --threads 2")
declare -A PORT PID
PORT[redis]=$(free_port)
start redis "${PORT[redis]}" "$REDIS_SERVER" --port "${PORT[redis]}" --bind 127.0.0.1 \
    --save '' --appendonly no --daemonize no --logfile ''
PID[redis]=$STARTED_PID
PORT[t1]=$(free_port)
start ringbus-t1 "${PORT[t1]}" "$RINGBUS" --threads 1 --port "${PORT[t1]}" --save=
PID[t1]=$STARTED_PID
PORT[t2]=$(free_port)
# shellcheck disable=SC2086 # T2_FLAGS is a list of flags
START_CPUS=0-1 start ringbus-t2 "${PORT[t2]}" "$RINGBUS" --threads 2 --port "${PORT[t2]}" --save= ${T2_FLAGS:-}
PID[t2]=$STARTED_PID

declare -A LABEL=([bullmq]="BullMQ (prefix bull)" [bullmq-hashtag]="BullMQ (prefix {bull})"
    [rq]="RQ" [celery]="Celery")
version() { # npm package version
    node -p "require('$RINGBUS_E2E_NODE/node_modules/$1/package.json').version"
}
echo "redis-server $("$REDIS_SERVER" --version | awk '{sub("v=", "", $3); print $3}') (port ${PORT[redis]}, CPU 0)," \
    "ringbus --threads 1 (port ${PORT[t1]}, CPU 0), ringbus --threads 2 (port ${PORT[t2]}, CPUs 0-1);" \
    "load on CPU 1" >&2
echo "bullmq $(version bullmq), ioredis $(version ioredis); $("$RINGBUS_E2E_PYTHON" -c \
    'import rq, celery, kombu, redis; print(f"rq {rq.__version__}, celery {celery.__version__}, kombu {kombu.__version__}, redis-py {redis.__version__}")');" \
    "$JOBS jobs per run, $ROUNDS round(s)" >&2

# run_one LIB SERVER: one run pinned to CPU 1; prints "JOBS ADD_S PROC_S TICKS".
run_one() {
    local lib=$1 server=$2 port=${PORT[$2]} pid=${PID[$2]} out status=0
    case $lib in
    bullmq | bullmq-hashtag)
        local prefix=bull
        [[ $lib == bullmq ]] || prefix='{bull}'
        out=$(RINGBUS_E2E_NODE=$RINGBUS_E2E_NODE taskset -c 1 node "$ROOT/benches/bullmq-load.mjs" \
            "$port" "$prefix" "$JOBS" "$BULLMQ_CONCURRENCY" "$pid" 2>"$WORKDIR/load.err") || status=$?
        ;;
    rq)
        out=$(taskset -c 1 "$RINGBUS_E2E_PYTHON" "$ROOT/benches/jobs_load.py" rq \
            "$port" "$JOBS" "$pid" 2>"$WORKDIR/load.err") || status=$?
        ;;
    celery)
        out=$(taskset -c 1 "$RINGBUS_E2E_PYTHON" "$ROOT/benches/jobs_load.py" celery \
            "$port" "$JOBS" "$pid" "$CELERY_CONCURRENCY" 2>"$WORKDIR/load.err") || status=$?
        ;;
    esac
    if ((status != 0)) || [[ ! $out =~ ^[0-9]+\ [0-9.]+\ [0-9.]+\ [0-9]+$ ]]; then
        echo "${LABEL[$lib]} on ${NAME[$server]} failed (status $status): $out" >&2
        cat "$WORKDIR/load.err" >&2
        exit 1
    fi
    echo "$out"
}

for ((round = 1; round <= ROUNDS; round++)); do
    order=("${SERVERS[@]}")
    ((round % 2)) || order=(t2 t1 redis)
    for lib in "${LIB_LIST[@]}"; do
        for server in "${order[@]}"; do
            line=$(run_one "$lib" "$server") || exit 1
            read -r n add proc ticks <<<"$line"
            for s in "${SERVERS[@]}"; do
                kill -0 "${PID[$s]}" 2>/dev/null || { echo "${NAME[$s]} (pid ${PID[$s]}) died" >&2; exit 1; }
            done
            awk -v n="$n" -v a="$add" -v p="$proc" -v t="$ticks" -v hz="$HZ" -v f="$WORKDIR/$lib.$server" \
                -v round="$round" -v label="${LABEL[$lib]}" -v name="${NAME[$server]}" 'BEGIN {
                    print n / a >>(f ".add"); print n / p >>(f ".proc"); print t / hz * 1e6 / n >>(f ".cpu")
                    printf "round %d  %-24s %-20s %8.0f added/s %8.0f processed/s %8.1f µs server CPU/job\n",
                        round, label, name, n / a, n / p, t / hz * 1e6 / n >"/dev/stderr" }'
            if [[ -n $RAW_CSV ]]; then
                echo "$round,$lib,$server,$n,$add,$proc,$ticks" >>"$RAW_CSV"
            fi
        done
    done
done

echo "| library | server | jobs/s added | jobs/s processed | processed vs redis | server CPU µs/job (processing) |"
echo "|---|---|---:|---:|---:|---:|"
for lib in "${LIB_LIST[@]}"; do
    base=$(median <"$WORKDIR/$lib.redis.proc")
    for server in "${SERVERS[@]}"; do
        awk -v l="${LABEL[$lib]}" -v s="${NAME[$server]}" -v a="$(median <"$WORKDIR/$lib.$server.add")" \
            -v p="$(median <"$WORKDIR/$lib.$server.proc")" -v c="$(median <"$WORKDIR/$lib.$server.cpu")" \
            -v b="$base" 'BEGIN { printf "| %s | %s | %.0f | %.0f | %.2f | %.1f |\n", l, s, a, p, p / b, c }'
    done
done
