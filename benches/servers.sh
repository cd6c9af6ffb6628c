# Shared by the benchmark scripts: start servers pinned to CPU 0, stop every
# one of them on exit, find free ports, read CPU time, take medians.
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

# start NAME PORT CMD... : start CMD pinned to CPU 0, wait until it answers
# PING; its pid is left in STARTED_PID.
start() {
    local name=$1 port=$2
    shift 2
    taskset -c 0 "$@" >"$WORKDIR/$name.log" 2>&1 &
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

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
