#!/usr/bin/env bash
# Compare the append-only log of ringbus (one log per core, written and
# fsynced through io_uring, group commit) with redis-server's AOF.
#
# Both servers run with `--appendonly yes --appendfsync POLICY --dir DIR
# --save ""`, each on a fresh DIR of its own under one directory (so on the
# same filesystem and disk), and by default `--auto-aof-rewrite-percentage 0`
# (no automatic rewrite during the runs: a rewrite, redis-server's forked or
# ringbus's in-process one, is not part of the per-request cost measured here;
# AUTO_REWRITE=yes leaves the servers' defaults). Servers are pinned to CPU 0
# (taskset -c 0), redis-benchmark and the PONG poller to CPU 1.
#
# 1. Throughput. For every round and every fsync policy (POLICIES), both
#    servers are started on fresh free ports and fresh dirs, then each test
#    at each pipeline depth is run against one server and then the other
#    (ringbus first in odd rounds, redis-server first in even ones, so slow
#    drifts in machine load hit both alike), then both are stopped and their
#    dirs removed. Tests (redis-benchmark -c CLIENTS -n N*P -P P):
#      set     -t set                 (SET key:__rand_int__ xxx, one key)
#      lpush   -t lpush               (LPUSH mylist xxx, one list)
#      xadd    XADD mystream * f v    (one stream)
#    Per test, the medians over the rounds of: requests/s of each server and
#    the ratio ringbus/redis; each server's CPU time per request in µs
#    (utime+stime of all its threads, from /proc/PID/stat, over the run,
#    divided by the requests) and redis's divided by ringbus's (cpu-x, >1:
#    ringbus uses less); the log bytes per request (growth of the files in
#    the server's dir over the run); the bytes the server wrote to storage
#    per request (write_bytes of /proc/PID/io: a page dirtied again after an
#    fsync counts again, so it shows what fsyncing small writes costs the
#    disk); and the disk's flushes per second over the run (/proc/diskstats
#    of the device holding the dirs: device-wide, so any other writer on the
#    disk adds to it; "-" when the dirs are not on a block device). With
#    `always`, requests/s divided by flushes/s is about the number of
#    requests one fsync covers.
# 2. Recovery. Each server, with appendfsync everysec, is given a log of
#    RECOVERY_N commands (redis-benchmark -c CLIENTS -P 16 -r 100000 -t
#    set,incr,lpush, a third each: ~100k string keys, ~100k counters, one list
#    of a third of the commands); after SETTLE seconds (so everysec has
#    written and fsynced everything) DBSIZE and LLEN mylist are read and the
#    server is killed with SIGKILL (no flush or rewrite on the way out). The
#    log's size on disk (apparent bytes of every file in the dir) is printed.
#    Then, in RECOVERY_ROUNDS alternating rounds, each server is started on a
#    fresh copy of its dir (so every round loads the same files; the copy is
#    in the page cache, so this is replay time, not disk reads) and timed
#    from exec to the first PONG (not -LOADING); DBSIZE and LLEN mylist must
#    be what they were before the kill; then it is killed again. Median
#    seconds, and the servers' own "loaded ... X seconds" log line if any.
#
# Until ringbus has its append-only log it rejects --appendonly yes: the
# script checks that first and stops with "ringbus does not support
# --appendonly yet". ONLY=redis runs everything against redis-server alone.
#
# Usage: benches/aof-vs-redis.sh       (quick: ROUNDS=1 N=20000 RECOVERY_N=100000)
#
# Environment:
#   ROUNDS           alternating rounds of the throughput part (default: 3)
#   N                requests per run at -P 1; -n is N x the pipeline depth
#                    (default: 100000)
#   POLICIES         appendfsync policies (default: "everysec always")
#   TESTS            tests among set, lpush, xadd (default: "set lpush xadd")
#   PIPELINES        pipeline depths (default: "1 16")
#   CLIENTS          redis-benchmark connections, -c (default: 50)
#   THREADS          ringbus --threads (default: 1)
#   RB_CPUS          CPUs ringbus is pinned to (default: 0; e.g. 0-1 with
#                    THREADS=2; redis-server stays on CPU 0)
#   RINGBUS          ringbus binary (default: target/release/ringbus, built
#                    with `cargo build --release` if missing; target/ is
#                    CARGO_TARGET_DIR if set)
#   RB_ARGS          extra ringbus arguments (word-split)
#   REDIS_SERVER     redis-server binary (default: redis-server)
#   AUTO_REWRITE     yes: leave the servers' automatic rewrite settings as they
#                    are (default: no, both get --auto-aof-rewrite-percentage 0;
#                    with yes, the CPU of redis-server's rewrite child is not
#                    in its CPU per request, and aof_rewrites is printed after
#                    each round)
#   AOF_DIR          directory under which the servers' dirs are made
#                    (default: the script's temporary directory, under TMPDIR)
#   RECOVERY_N       commands in the recovery log (default: 1000000; 0 skips
#                    the recovery part)
#   RECOVERY_ROUNDS  alternating restart rounds (default: ROUNDS)
#   SETTLE           seconds between the end of the writes and SIGKILL
#                    (default: 1.5)
#   ONLY             redis or ringbus: measure that server alone (the other's
#                    cells show "-")
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
N=${N:-100000}
POLICIES=${POLICIES:-everysec always}
TESTS=${TESTS:-set lpush xadd}
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
THREADS=${THREADS:-1}
RB_CPUS=${RB_CPUS:-0}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
AUTO_REWRITE=${AUTO_REWRITE:-no}
AOF_DIR=${AOF_DIR:-}
RECOVERY_N=${RECOVERY_N:-1000000}
RECOVERY_ROUNDS=${RECOVERY_ROUNDS:-$ROUNDS}
SETTLE=${SETTLE:-1.5}
ONLY=${ONLY:-}
read -r -a RB_EXTRA <<<"${RB_ARGS:-}"
read -r -a POLICY_LIST <<<"$POLICIES"
IFS=', ' read -r -a TEST_LIST <<<"$TESTS"
read -r -a PIPELINE_LIST <<<"$PIPELINES"

case $ONLY in
    "") SERVERS=(ringbus redis) ;;
    redis | ringbus) SERVERS=("$ONLY") ;;
    *) echo "ONLY must be redis or ringbus, not '$ONLY'" >&2; exit 1 ;;
esac
has() { [[ " ${SERVERS[*]} " == *" $1 "* ]]; }
for p in "${POLICY_LIST[@]}"; do
    [[ $p =~ ^(always|everysec|no)$ ]] || { echo "unknown appendfsync policy: $p" >&2; exit 1; }
done
for t in "${TEST_LIST[@]}"; do
    [[ $t =~ ^(set|lpush|xadd)$ ]] || { echo "unknown test: $t (set, lpush or xadd)" >&2; exit 1; }
done
case $AUTO_REWRITE in
    no) REWRITE_ARGS=(--auto-aof-rewrite-percentage 0) ;;
    yes) REWRITE_ARGS=() ;;
    *) echo "AUTO_REWRITE must be yes or no" >&2; exit 1 ;;
esac

for tool in taskset redis-benchmark redis-cli python3 "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
if has ringbus && [[ -z ${RINGBUS:-} ]]; then
    RINGBUS=${CARGO_TARGET_DIR:-$ROOT/target}/release/ringbus
    if [[ ! -x $RINGBUS ]]; then
        echo "building ringbus (release)..." >&2
        cargo build --release --manifest-path "$ROOT/Cargo.toml" >&2
    fi
fi

# WORKDIR, PIDS and the exit trap, free_port, start, launch, stop, kill9,
# launch_timed, rb_bench, median.
source "$ROOT/benches/servers.sh"

if [[ -n $AOF_DIR ]]; then
    mkdir -p "$AOF_DIR"
    AOF_ROOT=$(mktemp -d -p "$AOF_DIR" aofbench.XXXXXX)
    trap 'cleanup; rm -rf "$AOF_ROOT"' EXIT
else
    AOF_ROOT=$WORKDIR/aof
    mkdir -p "$AOF_ROOT"
fi
FSTYPE=$(stat -f -c %T "$AOF_ROOT")
if [[ $FSTYPE == tmpfs || $FSTYPE == ramfs ]]; then
    echo "warning: $AOF_ROOT is on $FSTYPE: fsync costs nothing there (set AOF_DIR)" >&2
fi
# The block device holding the dirs, for its flush count in /proc/diskstats.
read -r DEV_MAJOR DEV_MINOR <<<"$(stat -c '%Hd %Ld' "$AOF_ROOT")"
flush_count() {
    awk -v M="$DEV_MAJOR" -v m="$DEV_MINOR" '$1 == M && $2 == m && NF >= 20 { print $19 }' /proc/diskstats
}
[[ -n $(flush_count) ]] || echo "note: no flush count for device $DEV_MAJOR:$DEV_MINOR in /proc/diskstats; flush/s shows -" >&2

REDIS_VERSION=$("$REDIS_SERVER" --version | awk '{ sub(/^v=/, "", $3); print $3 }')

# fresh_dir LABEL: a new empty directory under AOF_ROOT, in DIR.
DIR_SEQ=0
fresh_dir() {
    DIR_SEQ=$((DIR_SEQ + 1))
    DIR=$AOF_ROOT/$1.$DIR_SEQ
    mkdir -p "$DIR"
}

# server_argv SERVER PORT DIR POLICY: the command line, in ARGV; the CPUs to
# pin it to, in CPUS.
server_argv() {
    local s=$1 port=$2 dir=$3 policy=$4
    if [[ $s == ringbus ]]; then
        ARGV=("$RINGBUS" --threads "$THREADS" --port "$port" --dir "$dir" --save ""
            --appendonly yes --appendfsync "$policy" "${REWRITE_ARGS[@]}" "${RB_EXTRA[@]}")
        CPUS=$RB_CPUS
    else
        ARGV=("$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" --save ''
            --appendonly yes --appendfsync "$policy" "${REWRITE_ARGS[@]}"
            --daemonize no --logfile '')
        CPUS=0
    fi
}

# Apparent size of every file under a directory, in bytes.
dir_bytes() {
    find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}
dir_files() {
    find "$1" -type f | wc -l
}

# Bytes a process (all its threads) has caused to be written to storage.
write_bytes() {
    awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io"
}

# round_order ROUND: the servers in ORDER, reversed in even rounds.
round_order() {
    ORDER=("${SERVERS[@]}")
    if ((${#SERVERS[@]} == 2 && $1 % 2 == 0)); then
        ORDER=("${SERVERS[1]}" "${SERVERS[0]}")
    fi
}

cli() { # cli PORT ARGS...
    redis-cli -h 127.0.0.1 -p "$@"
}

# ------------------------------------------------- does ringbus have the log?
# probe ARGS...: start ringbus with ARGS on a fresh dir; true if it answers
# PONG (then it is stopped), false if it exits first (its log is in
# WORKDIR/probe.log).
probe() {
    local port
    port=$(free_port)
    fresh_dir probe
    if launch_timed probe "$RB_CPUS" "$port" 30 "$RINGBUS" --threads "$THREADS" --port "$port" \
        --dir "$DIR" --save "" "$@" "${RB_EXTRA[@]}" 2>/dev/null; then
        PROBE_FSYNC=$(cli "$port" CONFIG GET appendfsync 2>/dev/null | sed -n 2p)
        stop "$port" "$LAUNCHED_PID"
        rm -rf "$DIR"
        return 0
    fi
    kill9 "$LAUNCHED_PID"
    rm -rf "$DIR"
    return 1
}
if has ringbus; then
    if ! probe --appendonly yes --appendfsync always; then
        echo "ringbus does not support --appendonly yet: $RINGBUS" \
            "($(date -r "$RINGBUS" '+built %F %T')) rejects --appendonly yes --appendfsync always:" >&2
        sed 's/^/    /' "$WORKDIR/probe.log" | head -5 >&2
        echo "Rebuild it (cargo build --release) once the append-only log has landed," \
            "or run ONLY=redis $0 to measure redis-server alone." >&2
        exit 2
    fi
    [[ $PROBE_FSYNC == always ]] ||
        echo "warning: ringbus started with --appendfsync always answers CONFIG GET appendfsync with '$PROBE_FSYNC'" >&2
    if ((${#REWRITE_ARGS[@]})) && ! probe --appendonly yes --appendfsync everysec "${REWRITE_ARGS[@]}"; then
        echo "ringbus does not accept ${REWRITE_ARGS[*]}:" >&2
        sed 's/^/    /' "$WORKDIR/probe.log" | head -5 >&2
        echo "Run with AUTO_REWRITE=yes to leave it out (both servers then keep their automatic rewrite)." >&2
        exit 2
    fi
fi

# ------------------------------------------------------------- throughput
declare -A PORT PID SDIR

# start_servers POLICY: both servers on fresh ports and dirs.
start_servers() {
    local s
    for s in "${SERVERS[@]}"; do
        PORT[$s]=$(free_port)
        fresh_dir "$s"
        SDIR[$s]=$DIR
        server_argv "$s" "${PORT[$s]}" "$DIR" "$1"
        START_CPUS=$CPUS start "$s" "${PORT[$s]}" "${ARGV[@]}"
        PID[$s]=$STARTED_PID
        echo "  $s: ${ARGV[*]} (CPUs $CPUS)" >&2
    done
}

stop_servers() {
    local s
    for s in "${SERVERS[@]}"; do
        stop "${PORT[$s]}" "${PID[$s]}"
        rm -rf "${SDIR[$s]}"
    done
}

alive() {
    kill -0 "${PID[$1]}" 2>/dev/null && return
    echo "$1 (pid ${PID[$1]}) died; log:" >&2
    tail -20 "$WORKDIR/$1.log" >&2
    exit 1
}

# measure SERVER POLICY TEST P: one redis-benchmark run; appends the
# requests/s, CPU µs per request, log bytes per request, storage write bytes
# per request and disk flushes per second to WORKDIR/POLICY.TEST.P.SERVER.*.
measure() {
    local s=$1 policy=$2 test=$3 p=$4
    local n=$((N * p)) port=${PORT[$1]} pid=${PID[$1]} dir=${SDIR[$1]} args
    local rps cpu log0 log1 wb0 wb1 f0 f1 t0 t1 key
    case $test in
        xadd) args=(XADD mystream '*' f v) ;;
        *) args=(-t "$test") ;;
    esac
    log0=$(dir_bytes "$dir"); wb0=$(write_bytes "$pid"); f0=$(flush_count); t0=$EPOCHREALTIME
    read -r rps cpu <<<"$(rb_bench "$port" "$pid" "$n" "$p" "${args[@]}")"
    t1=$EPOCHREALTIME; f1=$(flush_count); wb1=$(write_bytes "$pid"); log1=$(dir_bytes "$dir")
    alive "$s"
    [[ -n $rps ]] || { echo "$s: redis-benchmark failed: $test P=$p" >&2; exit 1; }
    key=$WORKDIR/$policy.$test.$p.$s
    echo "$rps" >>"$key.rps"
    echo "$cpu" >>"$key.cpu"
    awk -v a="$log0" -v b="$log1" -v n="$n" 'BEGIN { printf "%.1f\n", (b - a) / n }' >>"$key.log"
    awk -v a="$wb0" -v b="$wb1" -v n="$n" 'BEGIN { printf "%.1f\n", (b - a) / n }' >>"$key.wb"
    if [[ -n $f0 && -n $f1 ]]; then
        awk -v a="$f0" -v b="$f1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f\n", (b - a) / (t1 - t0) }' >>"$key.fl"
    fi
    printf '  %-7s rps %-10s cpu %s µs/req  log %s B/req  written %s B/req  flush/s %s\n' "$s" "$rps" "$cpu" \
        "$(tail -1 "$key.log")" "$(tail -1 "$key.wb")" "$( [[ -f $key.fl ]] && tail -1 "$key.fl" || echo -)" >&2
}

echo "ringbus: ${RINGBUS:-not measured} --threads $THREADS (CPUs $RB_CPUS); redis-server $REDIS_VERSION (CPU 0);" \
    "dirs under $AOF_ROOT ($FSTYPE, device $DEV_MAJOR:$DEV_MINOR)" >&2
for ((round = 1; round <= ROUNDS; round++)); do
    round_order "$round"
    for policy in "${POLICY_LIST[@]}"; do
        start_servers "$policy"
        for test in "${TEST_LIST[@]}"; do
            for p in "${PIPELINE_LIST[@]}"; do
                echo "round $round  appendfsync $policy  $test P=$p  -n $((N * p))" >&2
                for s in "${ORDER[@]}"; do
                    measure "$s" "$policy" "$test" "$p"
                done
            done
        done
        for s in "${SERVERS[@]}"; do
            info=$(cli "${PORT[$s]}" INFO persistence | tr -d '\r')
            rewrites=$(awk -F: '$1 == "aof_rewrites" { print $2 }' <<<"$info")
            status=$(awk -F: '$1 == "aof_last_write_status" { print $2 }' <<<"$info")
            echo "  $s: log $(dir_bytes "${SDIR[$s]}") bytes in $(dir_files "${SDIR[$s]}") files;" \
                "aof_rewrites ${rewrites:-?}, aof_last_write_status ${status:-?}" >&2
            [[ ${status:-ok} == ok ]] || { echo "$s: aof_last_write_status $status" >&2; exit 1; }
        done
        stop_servers
    done
done

# --------------------------------------------------------------- recovery
declare -A REC_DIR REC_KEYS REC_LLEN REC_BYTES REC_FILES
if ((RECOVERY_N > 0)); then
    per=$(((RECOVERY_N + 2) / 3))
    for s in "${SERVERS[@]}"; do
        port=$(free_port)
        fresh_dir "$s-recovery"
        REC_DIR[$s]=$DIR
        server_argv "$s" "$port" "$DIR" everysec
        START_CPUS=$CPUS start "$s-write" "$port" "${ARGV[@]}"
        pid=$STARTED_PID
        t0=$EPOCHREALTIME
        taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P 16 -n "$per" -r 100000 \
            -t set,incr,lpush -q >/dev/null 2>&1 || { echo "$s: redis-benchmark failed writing the log" >&2; exit 1; }
        t1=$EPOCHREALTIME
        sleep "$SETTLE"
        kill -0 "$pid" 2>/dev/null || { echo "$s died writing the log" >&2; tail -20 "$WORKDIR/$s-write.log" >&2; exit 1; }
        REC_KEYS[$s]=$(cli "$port" DBSIZE)
        REC_LLEN[$s]=$(cli "$port" LLEN mylist)
        kill9 "$pid"
        REC_BYTES[$s]=$(dir_bytes "$DIR")
        REC_FILES[$s]=$(dir_files "$DIR")
        printf '%s: %d commands written in %.2f s; %s keys, LLEN mylist %s; SIGKILL; log %s bytes in %s files\n' \
            "$s" $((3 * per)) "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "${REC_KEYS[$s]}" \
            "${REC_LLEN[$s]}" "${REC_BYTES[$s]}" "${REC_FILES[$s]}" >&2
    done

    for ((round = 1; round <= RECOVERY_ROUNDS; round++)); do
        round_order "$round"
        for s in "${ORDER[@]}"; do
            fresh_dir "$s-restart"
            rmdir "$DIR"
            cp -a "${REC_DIR[$s]}" "$DIR"
            port=$(free_port)
            server_argv "$s" "$port" "$DIR" everysec
            if ! launch_timed "$s-restart" "$CPUS" "$port" 600 "${ARGV[@]}"; then
                echo "$s did not come up on its log; its output:" >&2
                tail -20 "$WORKDIR/$s-restart.log" >&2
                exit 1
            fi
            pid=$LAUNCHED_PID secs=$PONG_SECS
            keys=$(cli "$port" DBSIZE)
            llen=$(cli "$port" LLEN mylist)
            kill9 "$pid"
            rm -rf "$DIR"
            if [[ $keys != "${REC_KEYS[$s]}" || $llen != "${REC_LLEN[$s]}" ]]; then
                echo "$s: after restart DBSIZE $keys, LLEN mylist $llen; before the kill: ${REC_KEYS[$s]}, ${REC_LLEN[$s]}" >&2
                exit 1
            fi
            # The same start on an empty dir: what starting costs without a log.
            fresh_dir "$s-empty"
            port=$(free_port)
            server_argv "$s" "$port" "$DIR" everysec
            launch_timed "$s-empty" "$CPUS" "$port" 60 "${ARGV[@]}" || exit 1
            kill9 "$LAUNCHED_PID"
            rm -rf "$DIR"
            echo "$PONG_SECS" >>"$WORKDIR/$s.empty"
            logsecs=$(sed -n 's/.*[Ll]oaded.* \([0-9][0-9.]*\) seconds.*/\1/p' "$WORKDIR/$s-restart.log" | tail -1)
            echo "$secs" >>"$WORKDIR/$s.restart"
            echo "${logsecs:-nan}" >>"$WORKDIR/$s.restartlog"
            printf 'restart round %d %-7s PONG after %.3f s (its log: %s s), %s keys, LLEN %s; on an empty dir: %.3f s\n' \
                "$round" "$s" "$secs" "${logsecs:--}" "$keys" "$llen" "$PONG_SECS" >&2
        done
    done
fi

# ------------------------------------------------------------------ tables
# med FILE FORMAT: the median of a column file, printf'd, or "-".
med() {
    [[ -s $1 ]] || { echo -; return; }
    local m
    m=$(median <"$1")
    [[ $m != nan ]] || { echo -; return; }
    awk -v m="$m" -v f="$2" 'BEGIN { printf f, m }'
}
# ratio A B FORMAT: A / B, or "-".
ratio() {
    [[ $1 != - && $2 != - ]] || { echo -; return; }
    awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (b > 0) printf f, a / b; else printf "-" }'
}

rb_label="ringbus --threads $THREADS"
echo
echo "appendonly yes, -c $CLIENTS, -n $N x P; $rb_label (CPUs $RB_CPUS), redis-server $REDIS_VERSION (CPU 0);" \
    "auto rewrite $([[ $AUTO_REWRITE == yes ]] && echo "as configured" || echo off); medians of $ROUNDS rounds;" \
    "dirs on $FSTYPE. Pairs are ringbus / redis."
echo
echo "| appendfsync | test | P | ringbus rps | redis rps | rps ratio | ringbus µs/req | redis µs/req | cpu-x | log B/req | written B/req | disk flush/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for policy in "${POLICY_LIST[@]}"; do
    for test in "${TEST_LIST[@]}"; do
        for p in "${PIPELINE_LIST[@]}"; do
            k=$WORKDIR/$policy.$test.$p
            rr=$(med "$k.ringbus.rps" %.0f); dr=$(med "$k.redis.rps" %.0f)
            rc=$(med "$k.ringbus.cpu" %.3f); dc=$(med "$k.redis.cpu" %.3f)
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |\n' \
                "$policy" "$test" "$p" "$rr" "$dr" "$(ratio "$rr" "$dr" %.2f)" "$rc" "$dc" "$(ratio "$dc" "$rc" %.2f)" \
                "$(med "$k.ringbus.log" %.1f)" "$(med "$k.redis.log" %.1f)" \
                "$(med "$k.ringbus.wb" %.1f)" "$(med "$k.redis.wb" %.1f)" \
                "$(med "$k.ringbus.fl" %.0f)" "$(med "$k.redis.fl" %.0f)"
        done
    done
done

echo
echo "rps ratio: ringbus / redis-server. cpu-x: redis-server's µs per request / ringbus's (>1: ringbus uses less;" \
    "ringbus at most 0.75x redis-server's CPU is cpu-x >= 1.33). disk flush/s counts every writer on the device."

if ((RECOVERY_N > 0)); then
    echo
    echo "Recovery: about $((3 * per)) commands (SET/INCR/LPUSH, -r 100000, -P 16) with appendfsync everysec, SIGKILL," \
        "restart on a copy of the dir; medians of $RECOVERY_ROUNDS rounds."
    echo
    echo "| server | keys | LLEN mylist | log MB (files) | restart to PONG s | server's own load log s | start on an empty dir s |"
    echo "|---|---|---|---|---|---|---|"
    for s in ringbus redis; do
        label=$([[ $s == ringbus ]] && echo "$rb_label" || echo "redis-server $REDIS_VERSION")
        if has "$s"; then
            printf '| %s | %s | %s | %s (%s) | %s | %s | %s |\n' "$label" "${REC_KEYS[$s]}" "${REC_LLEN[$s]}" \
                "$(awk -v b="${REC_BYTES[$s]}" 'BEGIN { printf "%.1f", b / 1048576 }')" "${REC_FILES[$s]}" \
                "$(med "$WORKDIR/$s.restart" %.3f)" "$(med "$WORKDIR/$s.restartlog" %.3f)" "$(med "$WORKDIR/$s.empty" %.3f)"
        else
            printf '| %s | - | - | - | - | - | - |\n' "$label"
        fi
    done
    if has ringbus && has redis; then
        echo
        echo "Restart to PONG, redis-server's time / ringbus's: $(ratio "$(med "$WORKDIR/redis.restart" %.4f)" "$(med "$WORKDIR/ringbus.restart" %.4f)" %.2f)x (>1: ringbus recovers faster)."
    fi
fi
