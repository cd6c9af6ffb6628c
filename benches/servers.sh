# shellcheck shell=bash
# Shared by the benchmark scripts: build release binaries, start servers
# pinned to CPU 0 (the server under test and redis-server side by side), stop
# every one of them on exit (or before: SHUTDOWN NOSAVE, or SIGKILL for a
# crash), time a start to its first PONG, find free ports, read CPU time, run
# redis-benchmark, take medians.
# Source it after setting ROOT; it sets WORKDIR and PIDS and traps EXIT.

WORKDIR=$(mktemp -d)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port that nothing is bound to right now (the kernel picks it).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME PORT CMD... : start CMD pinned to CPU 0 (or to the CPU list in
# START_CPUS, e.g. START_CPUS=0-1), wait until it answers PING; its pid is
# left in STARTED_PID.
start() {
    local name=$1 port=$2 prog=$3
    shift 3
    # The server runs in WORKDIR, so a snapshot it saves when stopped (save
    # rules are on by default) lands there, not in the caller's directory.
    [[ $prog == */* ]] && prog=$(realpath "$prog")
    (cd "$WORKDIR" && exec taskset -c "${START_CPUS:-0}" "$prog" "$@") >"$WORKDIR/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    STARTED_PID=$pid
    for _ in $(seq 100); do
        if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
            return
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not answer PING on port $port; log:" >&2
    cat "$WORKDIR/$name.log" >&2
    exit 1
}

# launch NAME CPUS CMD... : start CMD pinned to CPUS without waiting; sets
# LAUNCHED_PID and LAUNCH_T0 (epoch seconds just before the exec).
launch() {
    local name=$1 cpus=$2
    shift 2
    # shellcheck disable=SC2034 # read by the callers
    LAUNCH_T0=$EPOCHREALTIME
    taskset -c "$cpus" "$@" >"$WORKDIR/$name.log" 2>&1 &
    LAUNCHED_PID=$!
    PIDS+=("$LAUNCHED_PID")
}

# forget PID: drop a server that is gone from PIDS, so that the exit trap
# does not signal its (possibly reused) pid.
forget() {
    local pid keep=()
    for pid in "${PIDS[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    PIDS=("${keep[@]}")
}

# stop PORT PID: SHUTDOWN NOSAVE, then wait for the process (TERM after 30 s).
stop() {
    redis-cli -h 127.0.0.1 -p "$1" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    for _ in $(seq 300); do
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    kill "$2" 2>/dev/null || true
    wait "$2" 2>/dev/null || true
    forget "$2"
}

# kill9 PID: SIGKILL a server we started (a crash: nothing is flushed or
# rewritten on the way out) and reap it.
kill9() {
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget "$1"
}

# launch_timed NAME CPUS PORT TIMEOUT CMD... : launch CMD as `launch` does
# and time it from exec to its first PONG, in PONG_SECS. A poller on CPU 1,
# started (and its interpreter loaded) before CMD, sends PING every ~1 ms: a
# -LOADING reply is polled again on the same connection, a refused
# connection is retried. Fails (returns 1, with a message) if the server
# exits first or gives no PONG within TIMEOUT seconds; the server is then
# still in PIDS.
launch_timed() {
    local name=$1 cpus=$2 port=$3 timeout=$4 poller from to reply=""
    shift 4
    [[ -f $WORKDIR/pong.py ]] || cat >"$WORKDIR/pong.py" <<'PY'
import os, socket, sys, time
port, timeout = int(sys.argv[1]), float(sys.argv[2])
print('ready', flush=True)
pid, t0 = sys.stdin.readline().split()
pid, t0 = int(pid), float(t0)

def fail(msg):
    print('fail ' + msg, flush=True)
    sys.exit(1)

while True:
    try:
        os.kill(pid, 0)
    except OSError:
        fail('server pid %d exited before answering PONG' % pid)
    if time.time() - t0 > timeout:
        fail('no PONG on port %d in %g s' % (port, timeout))
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    except OSError:
        time.sleep(0.001)
        continue
    f = s.makefile('rb')
    while True:
        s.sendall(b'*1\r\n$4\r\nPING\r\n')
        line = f.readline()
        if line == b'+PONG\r\n':
            print('%.4f' % (time.time() - t0), flush=True)
            sys.exit(0)
        if not line or time.time() - t0 > timeout:
            break
        time.sleep(0.001)
    s.close()
PY
    coproc PONG_POLLER { taskset -c 1 python3 "$WORKDIR/pong.py" "$port" "$timeout"; }
    poller=$PONG_POLLER_PID
    # Our own copies of the coprocess's pipes: bash closes its copies as soon
    # as it reaps the coprocess, which may be before its last line is read.
    exec {from}<&"${PONG_POLLER[0]}" {to}>&"${PONG_POLLER[1]}"
    read -r reply <&"$from" || true
    if [[ $reply == ready ]]; then
        launch "$name" "$cpus" "$@" {from}<&- {to}>&-
        echo "$LAUNCHED_PID $LAUNCH_T0" >&"$to"
        read -r reply <&"$from" || reply="fail the PONG poller died"
    else
        reply="fail the PONG poller did not start"
    fi
    exec {from}<&- {to}>&-
    wait "$poller" || true
    if [[ $reply == fail* ]]; then
        echo "$name: ${reply#fail }" >&2
        return 1
    fi
    # shellcheck disable=SC2034 # read by the callers
    PONG_SECS=$reply
}

# release_bin NAME: prints the path of the release binary NAME (under
# CARGO_TARGET_DIR if set, else ROOT/target), building it first with
# `cargo build --release --bin NAME` if it is missing.
release_bin() {
    local bin=${CARGO_TARGET_DIR:-$ROOT/target}/release/$1
    if [[ ! -x $bin ]]; then
        echo "building $1 (release)..." >&2
        cargo build --release --bin "$1" --manifest-path "$ROOT/Cargo.toml" >&2
    fi
    echo "$bin"
}

# start_pair: starts the server under test, SERVER_CMD with "{port}" replaced
# by a free port, as SERVER_NAME, and REDIS_SERVER, each as `start` does.
# Sets SUT_ARGV, SUT_PORT, SUT_PID, REDIS_PORT and REDIS_PID.
start_pair() {
    SUT_PORT=$(free_port)
    read -r -a SUT_ARGV <<<"${SERVER_CMD//\{port\}/$SUT_PORT}"
    start "$SERVER_NAME" "$SUT_PORT" "${SUT_ARGV[@]}"
    SUT_PID=$STARTED_PID

    REDIS_PORT=$(free_port)
    start redis "$REDIS_PORT" "$REDIS_SERVER" --port "$REDIS_PORT" \
        --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile ''
    REDIS_PID=$STARTED_PID

    echo "$SERVER_NAME: ${SUT_ARGV[*]} (port $SUT_PORT); redis: $("$REDIS_SERVER" --version | awk '{print $3}') (port $REDIS_PORT)" >&2
}

# Exits the script if either server of the pair has died.
pair_alive() {
    local pid
    for pid in "$SUT_PID" "$REDIS_PID"; do
        kill -0 "$pid" 2>/dev/null || { echo "server pid $pid died" >&2; exit 1; }
    done
}

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# rb_bench PORT PID REQUESTS PIPELINE ARGS... : redis-benchmark pinned to CPU 1,
# CLIENTS connections (-c), REQUESTS requests (-n), PIPELINE deep (-P), then
# ARGS: a test (-t NAME) or a command of its own. Prints "requests/s
# server-CPU-microseconds-per-request" (empty on failure). The CPU figure
# matters when the benchmark client, not the server, is the bottleneck: then
# requests/s ties while CPU per request differs.
rb_bench() {
    local port=$1 pid=$2 n=$3 pipeline=$4
    shift 4
    local before after rps
    before=$(cpu_ticks "$pid")
    rps=$(taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" \
        -P "$pipeline" --csv -q "$@" 2>/dev/null |
        awk -F'","' 'NR > 1 { rps = $2 } END { if (rps != "") print rps }')
    after=$(cpu_ticks "$pid")
    [[ -n $rps ]] || return 0
    awk -v rps="$rps" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$n" \
        'BEGIN { printf "%s %.3f\n", rps, t / hz * 1e6 / n }'
}
