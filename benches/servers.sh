# Shared by the benchmark scripts: build release binaries, start servers
# pinned to CPU 0 (the server under test and redis-server side by side), stop
# every one of them on exit, find free ports, read CPU time, run
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
    local name=$1 port=$2
    shift 2
    taskset -c "${START_CPUS:-0}" "$@" >"$WORKDIR/$name.log" 2>&1 &
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
