#!/usr/bin/env bash
# Compare RDB snapshots of ringbus (no fork: a point in time over every shard,
# keys encoded before their first change) with redis-server's (fork and
# copy-on-write), on the same dataset.
#
# What is measured, for each server:
# 1. Dataset. KEYS keys of mixed types (70% strings of 16-100 bytes, one in
#    ten an integer; 10% hashes of 4-8 fields; the rest split between lists,
#    sets (half intsets) and sorted sets of 3-8 elements) plus one stream of
#    STREAM entries, generated once as RESP (fixed seed) and fed to both
#    servers with `redis-cli --pipe`. used_memory and RSS after loading.
# 2. BGSAVE under writes. A quiet BGSAVE first (no writers) gives the file
#    size and a first estimate of the save time. Then, in ROUNDS alternating
#    rounds (ringbus, then redis-server), each server gets two redis-benchmark
#    runs of SET on the existing string keys (-r over the string keys, so every
#    write changes a key the snapshot has to keep as it was: copy-on-write for
#    redis, copy-before-change for ringbus), with the same number of requests:
#    a baseline run with no save, and a run during which a BGSAVE is issued
#    after LEAD seconds. The number of requests is sized from the previous
#    round (writer requests/s during a save, save time) so the writers cover
#    the save and end about TAIL seconds after it; the first round uses the
#    quiet save time x 1.5. A Python monitor issues BGSAVE and polls
#    `INFO persistence` every ~10 ms until rdb_bgsave_in_progress:0 with
#    rdb_saves increased and rdb_last_bgsave_status:ok (redis-server notices
#    its child's exit in serverCron, so its times are up to 1/hz = 100 ms
#    late), while a thread of the monitor samples, every ~10 ms whether or not
#    the server answers INFO, the memory of the server and its children
#    (redis-server's fork child): the sum of their RSS (/proc/PID/statm) and
#    of their PSS (/proc/PID/smaps_rollup). Peak extra = peak during the
#    save minus the sample just before BGSAVE. The RSS sum counts every page
#    the fork child shares with redis-server twice (it is what `ps` adds up);
#    the PSS sum splits shared pages between the processes, so it is the
#    memory the save really costs (for ringbus, one process, both are the
#    same); both are shown. Reported: save seconds (BGSAVE to done),
#    peak extra RSS/PSS in MB and as % of used_memory, the writers'
#    p50/p99/max latency and requests/s over the save run vs the baseline run,
#    the longest the server left the monitor's INFO unanswered during the
#    save (a stall of the server; the writers' max shows it too, but
#    redis-benchmark's histogram stops at 3 s, so its max is never above
#    3000 ms: shown as >=3000),
#    the share of the save window the writers covered, the server's extra CPU
#    seconds in the save run over the baseline run (children included), and
#    redis-server's rdb_last_cow_size. Medians over the rounds.
# 3. Load at start. Both servers are stopped (SHUTDOWN NOSAVE) and started
#    again on their last dump.rdb, in LOAD_ROUNDS alternating rounds: ringbus
#    at --threads 1 and at --threads 2 (taskset -c LOAD2_CPUS, default 0-1),
#    redis-server. Time from exec to the first PONG, with DBSIZE equal to the
#    saved key count (writes only overwrite keys, so the count is the
#    dataset's). The servers' own log line "DB loaded from disk: X seconds"
#    is printed beside it. Medians over the rounds.
# 4. Interop. redis-check-rdb on ringbus's file; redis-server started on
#    ringbus's file and ringbus on redis-server's, DBSIZE checked.
#
# Servers run pinned to CPU 0 (taskset -c 0), redis-cli --pipe, redis-benchmark
# and the monitor on CPU 1. Every server started is stopped on exit.
#
# Usage: benches/snapshot-vs-redis.sh     (quick: KEYS=100000 STREAM=100000)
#
# Environment:
#   KEYS         keys besides the stream (default: 1000000)
#   STREAM       entries of the one stream key (default: 1000000; 0: none)
#   ROUNDS       alternating rounds of baseline + save-under-writes (default: 3)
#   LOAD_ROUNDS  alternating rounds of restart-and-load (default: 3)
#   RB_THREADS   ringbus executors for the dataset and the saves (default: 1)
#   LOAD2_CPUS   CPUs for the ringbus --threads 2 load (default: 0-1)
#   RINGBUS      ringbus binary (default: target/release/ringbus, built with
#                `cargo build --release` if missing)
#   RB_ARGS      extra ringbus arguments (word-split)
#   REDIS_SERVER redis-server binary (default: redis-server)
#   CLIENTS      writer connections, -c (default: 50)
#   PIPELINE     writer pipeline depth, -P (default: 1)
#   WRITE_SIZE   bytes of each SET value, -d (default: 50)
#   LEAD         seconds of writes before BGSAVE (default: 0.5)
#   TAIL         seconds the writers should go on after the save (default: 0.3)
#   INTERVAL     monitor tick in seconds (default: 0.01)
#   KEEP_DIR     if set, copy the two dump.rdb files there at the end
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYS=${KEYS:-1000000}
STREAM=${STREAM:-1000000}
ROUNDS=${ROUNDS:-3}
LOAD_ROUNDS=${LOAD_ROUNDS:-3}
RB_THREADS=${RB_THREADS:-1}
LOAD2_CPUS=${LOAD2_CPUS:-0-1}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-1}
WRITE_SIZE=${WRITE_SIZE:-50}
LEAD=${LEAD:-0.5}
TAIL=${TAIL:-0.3}
INTERVAL=${INTERVAL:-0.01}
KEEP_DIR=${KEEP_DIR:-}
read -r -a RB_EXTRA <<<"${RB_ARGS:-}"

for tool in taskset redis-benchmark redis-cli redis-check-rdb python3 "$REDIS_SERVER"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
if [[ -z ${RINGBUS:-} ]]; then
    if [[ ! -x $ROOT/target/release/ringbus ]]; then
        echo "building ringbus (release)..." >&2
        cargo build --release --manifest-path "$ROOT/Cargo.toml" >&2
    fi
    RINGBUS=$ROOT/target/release/ringbus
fi

# WORKDIR, PIDS and the exit trap, free_port, start, launch, stop, median.
source "$ROOT/benches/servers.sh"

PAGE_MB=1048576
HZ=$(getconf CLK_TCK)

# The generator, the BGSAVE monitor and the start-up waiter.
cat >"$WORKDIR/snap.py" <<'PY'
import os, random, socket, sys, threading, time

def resp(*args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)

def gen(keys, stream, path):
    """RESP commands for the dataset; prints the string key count and the
    total key count."""
    rnd = random.Random(42)
    hexs = lambda n: rnd.randbytes((n + 1) // 2).hex()[:n]
    short = lambda: str(rnd.randrange(100000)) if rnd.random() < 0.3 else hexs(rnd.randint(4, 20))
    n_str = keys * 7 // 10
    n_hash = keys // 10
    rest = keys - n_str - n_hash
    n_list = rest // 3
    n_set = rest // 3
    n_zset = rest - n_list - n_set
    with open(path, 'wb', buffering=1 << 22) as f:
        w = f.write
        for i in range(n_str):
            v = str(rnd.randrange(10 ** 9)) if i % 10 == 0 else hexs(rnd.randint(16, 100))
            w(resp(b'SET', b'key:%012d' % i, v))
        for i in range(n_hash):
            args = [b'HSET', b'hash:%012d' % i]
            for j in range(rnd.randint(4, 8)):
                args += [b'field%d' % j, short()]
            w(resp(*args))
        for i in range(n_list):
            w(resp(b'RPUSH', b'list:%012d' % i, *[short() for _ in range(rnd.randint(3, 8))]))
        for i in range(n_set):
            if i % 2:
                members = [str(rnd.randrange(10 ** 6)) for _ in range(rnd.randint(3, 8))]
            else:
                members = [hexs(rnd.randint(4, 20)) for _ in range(rnd.randint(3, 8))]
            w(resp(b'SADD', b'set:%012d' % i, *members))
        for i in range(n_zset):
            args = [b'ZADD', b'zset:%012d' % i]
            for j in range(rnd.randint(3, 8)):
                args += ['%.3f' % (rnd.random() * 1000), b'm%d' % j]
            w(resp(*args))
        for i in range(stream):
            w(resp(b'XADD', b'stream', '%d-%d' % (1700000000000 + i // 8, i % 8),
                   b'sensor', str(rnd.randrange(1000)), b'value', '%.2f' % (rnd.random() * 100)))
    print(n_str, keys + (1 if stream else 0))

class Client:
    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.f = self.s.makefile('rb')

    def cmd(self, *args):
        self.s.sendall(resp(*args))
        line = self.f.readline()
        if not line:
            raise ConnectionError('connection closed')
        kind, rest = line[:1], line[1:-2]
        if kind == b'$':
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if kind == b':':
            return int(rest)
        if kind == b'-':
            return Exception(rest.decode())
        return rest.decode()

    def info(self, section):
        out = {}
        for line in self.cmd('INFO', section).splitlines():
            k, sep, v = line.partition(':')
            if sep:
                out[k] = v
        return out

def family(pid):
    """pid and its children (redis-server's fork child)."""
    pids = [pid]
    try:
        for t in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, t)) as f:
                pids += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return pids

PAGE = os.sysconf('SC_PAGE_SIZE')

def rss(pid):
    try:
        with open('/proc/%d/statm' % pid) as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0

def pss(pid):
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0

def memory(pid):
    fam = family(pid)
    return sum(map(rss, fam)), sum(map(pss, fam)), len(fam)

def save(port, pid, interval):
    """BGSAVE while sampling memory; prints: seconds rss_before rss_peak
    pss_before pss_peak used_memory t_start t_end samples max_procs cow_size
    longest-wait (the longest time between two replies of the server to the
    monitor, from BGSAVE on: how long the server stopped answering).
    Memory is sampled by a thread of its own, so a server slow to answer INFO
    does not thin out the samples."""
    c = Client(port, timeout=3600)
    saves0 = int(c.info('persistence')['rdb_saves'])
    used = c.info('memory')['used_memory']
    rss0, pss0, _ = memory(pid)
    peak = {'rss': rss0, 'pss': pss0, 'procs': 1, 'samples': 0}
    stop = threading.Event()

    def sampler():
        tick = time.time()
        while not stop.is_set():
            r, p, n = memory(pid)
            peak['rss'], peak['pss'] = max(peak['rss'], r), max(peak['pss'], p)
            peak['procs'] = max(peak['procs'], n)
            peak['samples'] += 1
            tick += interval
            time.sleep(max(0.0, tick - time.time()))

    t0 = time.time()
    reply = c.cmd('BGSAVE')
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    if not isinstance(reply, str) or not reply.startswith('Background saving started'):
        sys.exit('BGSAVE: %r' % (reply,))
    seen = False
    tick = last = t0
    gap = 0.0
    while True:
        info = c.info('persistence')
        now = time.time()
        gap, last = max(gap, now - last), now
        if info['rdb_bgsave_in_progress'] == '1':
            seen = True
        elif seen or int(info['rdb_saves']) > saves0:
            t1 = time.time()
            break
        if time.time() - t0 > 3600:
            sys.exit('BGSAVE did not end in an hour')
        tick += interval
        time.sleep(max(0.0, tick - time.time()))
    stop.set()
    th.join()
    if info['rdb_last_bgsave_status'] != 'ok' or int(info['rdb_saves']) <= saves0:
        sys.exit('BGSAVE failed: %s' % info)
    print('%.4f %d %d %d %d %s %.4f %.4f %d %d %s %.4f' % (
        t1 - t0, rss0, peak['rss'], pss0, peak['pss'], used, t0, t1, peak['samples'],
        peak['procs'], info.get('rdb_last_cow_size', '0'), gap))

def ready(port, pid, t0, expected, timeout):
    """Polls PING from t0 (the start's epoch time) until PONG; prints the
    seconds to it, then checks DBSIZE."""
    while True:
        now = time.time()
        if now - t0 > timeout:
            sys.exit('no PONG in %ds' % timeout)
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit('server exited while loading')
        try:
            c = Client(port, timeout=max(1, timeout))
        except OSError:
            time.sleep(0.002)
            continue
        while c.cmd('PING') != 'PONG':
            time.sleep(0.002)
        t = time.time()
        n = c.cmd('DBSIZE')
        if n != expected:
            sys.exit('DBSIZE %s after load, expected %d' % (n, expected))
        print('%.4f' % (t - t0))
        return

if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'gen':
        gen(int(args[0]), int(args[1]), args[2])
    elif cmd == 'save':
        save(int(args[0]), int(args[1]), float(args[2]))
    elif cmd == 'ready':
        ready(int(args[0]), int(args[1]), float(args[2]), int(args[3]), int(args[4]))
PY
snap() { taskset -c 1 python3 "$WORKDIR/snap.py" "$@"; }

# CPU time of a process and its reaped children (clock ticks).
cpu_all() {
    awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"
}

rss_of() {
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

mb() {
    awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'
}

rb_cmd() { # rb_cmd PORT DIR THREADS
    RB_ARGV=("$RINGBUS" --threads "$3" --port "$1" --dir "$2" --save "" "${RB_EXTRA[@]}")
}
redis_cmd() { # redis_cmd PORT DIR
    REDIS_ARGV=("$REDIS_SERVER" --port "$1" --bind 127.0.0.1 --dir "$2" --dbfilename dump.rdb
        --save '' --appendonly no --daemonize no --logfile '')
}

# start_loaded NAME CPUS PORT EXPECTED CMD... : start CMD, wait for PONG with
# DBSIZE = EXPECTED; sets LOAD_SECS (exec to PONG) and LOAD_LOG (the
# server's "DB loaded from disk" seconds); the pid is left in LAUNCHED_PID.
start_loaded() {
    local name=$1 cpus=$2 port=$3 expected=$4
    shift 4
    launch "$name" "$cpus" "$@"
    if ! LOAD_SECS=$(snap ready "$port" "$LAUNCHED_PID" "$LAUNCH_T0" "$expected" 600); then
        echo "$name did not come up with $expected keys; log:" >&2
        cat "$WORKDIR/$name.log" >&2
        exit 1
    fi
    LOAD_LOG=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$WORKDIR/$name.log" | tail -1)
    LOAD_LOG=${LOAD_LOG:-nan}
}

# ---------------------------------------------------------------- dataset
echo "generating $KEYS keys + a stream of $STREAM entries..." >&2
read -r N_STR EXPECTED <<<"$(python3 "$WORKDIR/snap.py" gen "$KEYS" "$STREAM" "$WORKDIR/data.resp")"
echo "  $(mb "$(stat -c %s "$WORKDIR/data.resp")") MB of RESP, $EXPECTED keys ($N_STR strings)" >&2

mkdir -p "$WORKDIR/ringbus" "$WORKDIR/redis"
RB_PORT=$(free_port)
rb_cmd "$RB_PORT" "$WORKDIR/ringbus" "$RB_THREADS"
start ringbus "$RB_PORT" "${RB_ARGV[@]}"
RB_PID=$STARTED_PID
REDIS_PORT=$(free_port)
redis_cmd "$REDIS_PORT" "$WORKDIR/redis"
start redis "$REDIS_PORT" "${REDIS_ARGV[@]}"
REDIS_PID=$STARTED_PID
echo "ringbus: ${RB_ARGV[*]} (port $RB_PORT); redis: $("$REDIS_SERVER" --version | awk '{print $3}') (port $REDIS_PORT)" >&2

NAMES=(ringbus redis)
declare -A PORT=([ringbus]=$RB_PORT [redis]=$REDIS_PORT)
declare -A PID=([ringbus]=$RB_PID [redis]=$REDIS_PID)
declare -A USED RSS0 FILE_MB QUIET EST RPS

alive() {
    local s
    for s in "${NAMES[@]}"; do
        kill -0 "${PID[$s]}" 2>/dev/null || { echo "$s (pid ${PID[$s]}) died; log:" >&2; cat "$WORKDIR/$s.log" >&2; exit 1; }
    done
}

for s in "${NAMES[@]}"; do
    t0=$EPOCHREALTIME
    out=$(taskset -c 1 redis-cli -h 127.0.0.1 -p "${PORT[$s]}" --pipe <"$WORKDIR/data.resp" 2>&1)
    t1=$EPOCHREALTIME
    if ! grep -q 'errors: 0,' <<<"$out"; then
        echo "$s: redis-cli --pipe: $out" >&2
        exit 1
    fi
    n=$(redis-cli -h 127.0.0.1 -p "${PORT[$s]}" DBSIZE)
    [[ $n == "$EXPECTED" ]] || { echo "$s: DBSIZE $n after loading, expected $EXPECTED" >&2; exit 1; }
    USED[$s]=$(redis-cli -h 127.0.0.1 -p "${PORT[$s]}" INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }')
    RSS0[$s]=$(rss_of "${PID[$s]}")
    printf '%-8s loaded in %.2f s: used_memory %s MB, RSS %s MB\n' "$s" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(mb "${USED[$s]}")" "$(mb "${RSS0[$s]}")" >&2
done

# ---------------------------------------------------------- quiet BGSAVE
for s in "${NAMES[@]}"; do
    read -r secs _ <<<"$(snap save "${PORT[$s]}" "${PID[$s]}" "$INTERVAL")"
    QUIET[$s]=$secs
    EST[$s]=$(awk -v a="$secs" 'BEGIN { print a * 1.5 }')
    FILE_MB[$s]=$(mb "$(stat -c %s "$WORKDIR/$s/dump.rdb")")
    printf '%-8s quiet BGSAVE: %.3f s, %s MB\n' "$s" "$secs" "${FILE_MB[$s]}" >&2
done

# Writer requests/s to size the first round: a short calibration run.
for s in "${NAMES[@]}"; do
    RPS[$s]=$(taskset -c 1 redis-benchmark -h 127.0.0.1 -p "${PORT[$s]}" -c "$CLIENTS" -P "$PIPELINE" \
        -n 100000 -t set -r "$N_STR" -d "$WRITE_SIZE" --csv -q 2>/dev/null |
        awk -F'","' 'NR > 1 { print $2 }')
    [[ -n ${RPS[$s]} ]] || { echo "$s: redis-benchmark failed" >&2; exit 1; }
done

# writer PORT N OUT: the SET run, CSV line "rps p50 p99 max" into OUT.
writer() {
    taskset -c 1 redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -P "$PIPELINE" -n "$2" \
        -t set -r "$N_STR" -d "$WRITE_SIZE" --csv -q 2>/dev/null |
        awk -F, 'NR > 1 { gsub(/"/, ""); print $2, $5, $7, $8 }' >"$3"
}

# --------------------------------------------------- BGSAVE under writes
for ((round = 1; round <= ROUNDS; round++)); do
    for s in "${NAMES[@]}"; do
        port=${PORT[$s]} pid=${PID[$s]}
        n=$(awk -v r="${RPS[$s]}" -v l="$LEAD" -v e="${EST[$s]}" -v t="$TAIL" -v p="$PIPELINE" \
            'BEGIN { n = int(r * (l + e + t)); m = 20000 * p; print (n > m ? n : m) }')

        # Baseline: the same writes, no save.
        c0=$(cpu_all "$pid"); w0=$EPOCHREALTIME
        writer "$port" "$n" "$WORKDIR/base.out"
        w1=$EPOCHREALTIME; c1=$(cpu_all "$pid")
        read -r b_rps b50 b99 bmax <"$WORKDIR/base.out" || true
        [[ -n ${b_rps:-} ]] || { echo "$s: baseline redis-benchmark failed" >&2; exit 1; }
        base_cpu=$((c1 - c0))

        # The same run with a BGSAVE after LEAD seconds.
        c0=$(cpu_all "$pid"); w0=$EPOCHREALTIME
        writer "$port" "$n" "$WORKDIR/save.out" &
        wpid=$!
        sleep "$LEAD"
        if ! mon=$(snap save "$port" "$pid" "$INTERVAL"); then
            wait "$wpid" || true
            alive
            echo "$s: BGSAVE under writes failed" >&2
            exit 1
        fi
        wait "$wpid"
        w1=$EPOCHREALTIME; c1=$(cpu_all "$pid")
        read -r s_rps s50 s99 smax <"$WORKDIR/save.out" || true
        [[ -n ${s_rps:-} ]] || { echo "$s: redis-benchmark during the save failed" >&2; exit 1; }
        save_cpu=$((c1 - c0))
        alive
        read -r secs rss0 rssp pss0 pssp used t0 t1 samples procs cow gap <<<"$mon"
        # Share of the save window the writers covered.
        cover=$(awk -v a="$t0" -v b="$t1" -v w="$w1" 'BEGIN { c = ((w < b ? w : b) - a) / (b - a); printf "%.0f", 100 * (c < 0 ? 0 : c) }')
        rss_after=$(rss_of "$pid")
        extra_cpu=$(awk -v a="$save_cpu" -v b="$base_cpu" -v hz="$HZ" 'BEGIN { printf "%.2f", (a - b) / hz }')
        {
            echo "$secs"     >>"$WORKDIR/$s.secs"
            echo $((rssp - rss0)) >>"$WORKDIR/$s.xrss"
            echo $((pssp - pss0)) >>"$WORKDIR/$s.xpss"
            echo "$used"     >>"$WORKDIR/$s.used"
            echo "$s50"      >>"$WORKDIR/$s.s50";  echo "$s99" >>"$WORKDIR/$s.s99"; echo "$smax" >>"$WORKDIR/$s.smax"
            echo "$b50"      >>"$WORKDIR/$s.b50";  echo "$b99" >>"$WORKDIR/$s.b99"; echo "$bmax" >>"$WORKDIR/$s.bmax"
            echo "$s_rps"    >>"$WORKDIR/$s.srps"; echo "$b_rps" >>"$WORKDIR/$s.brps"
            echo "$cover"    >>"$WORKDIR/$s.cover"
            echo "$extra_cpu" >>"$WORKDIR/$s.cpu"
            echo "$cow"      >>"$WORKDIR/$s.cow"
            echo "$gap"      >>"$WORKDIR/$s.gap"
        }
        printf 'round %d %-8s n=%-8s save %.3f s (cover %s%%, %s samples, %s procs, longest wait for INFO %.3f s)  extra RSS %s MB, PSS %s MB  p50/p99/max ms %s/%s/%s (base %s/%s/%s)  rps %.0f (base %.0f)  extra CPU %s s  used_memory before %s MB, RSS after %s MB%s\n' \
            "$round" "$s" "$n" "$secs" "$cover" "$samples" "$procs" "$gap" "$(mb $((rssp - rss0)))" "$(mb $((pssp - pss0)))" \
            "$s50" "$s99" "$smax" "$b50" "$b99" "$bmax" "$s_rps" "$b_rps" "$extra_cpu" "$(mb "$used")" "$(mb "$rss_after")" \
            "$([[ $s == redis ]] && echo ", cow $(mb "$cow") MB")" >&2
        # Size the next round from this one.
        EST[$s]=$secs
        RPS[$s]=$s_rps
    done
done

# ------------------------------------------------------------ load at start
declare -A RSS_END=()
for s in "${NAMES[@]}"; do
    FILE_MB[$s]=$(mb "$(stat -c %s "$WORKDIR/$s/dump.rdb")")
    RSS_END[$s]=$(rss_of "${PID[$s]}")
    stop "${PORT[$s]}" "${PID[$s]}"
done
if [[ -n $KEEP_DIR ]]; then
    mkdir -p "$KEEP_DIR"
    cp "$WORKDIR/ringbus/dump.rdb" "$KEEP_DIR/ringbus.rdb"
    cp "$WORKDIR/redis/dump.rdb" "$KEEP_DIR/redis.rdb"
fi

LOADERS=(ringbus-t1 ringbus-t2 redis)
for ((round = 1; round <= LOAD_ROUNDS; round++)); do
    for l in "${LOADERS[@]}"; do
        port=$(free_port)
        case $l in
            ringbus-t1) rb_cmd "$port" "$WORKDIR/ringbus" 1; cpus=0; argv=("${RB_ARGV[@]}") ;;
            ringbus-t2) rb_cmd "$port" "$WORKDIR/ringbus" 2; cpus=$LOAD2_CPUS; argv=("${RB_ARGV[@]}") ;;
            redis) redis_cmd "$port" "$WORKDIR/redis"; cpus=0; argv=("${REDIS_ARGV[@]}") ;;
        esac
        start_loaded "load-$l" "$cpus" "$port" "$EXPECTED" "${argv[@]}"
        pid=$LAUNCHED_PID secs=$LOAD_SECS logsecs=$LOAD_LOG
        echo "$secs" >>"$WORKDIR/$l.load"
        echo "$logsecs" >>"$WORKDIR/$l.loadlog"
        printf 'load round %d %-11s PONG with %s keys after %.3f s (log: DB loaded from disk: %s seconds), RSS %s MB\n' \
            "$round" "$l" "$EXPECTED" "$secs" "$logsecs" "$(mb "$(rss_of "$pid")")" >&2
        stop "$port" "$pid"
    done
done

# ------------------------------------------------------------------ interop
check=$(redis-check-rdb "$WORKDIR/ringbus/dump.rdb" 2>&1) || true
if grep -q 'RDB looks OK' <<<"$check"; then
    CHECK="redis-check-rdb: RDB looks OK"
else
    CHECK="redis-check-rdb FAILED: $(tail -3 <<<"$check")"
fi
mkdir -p "$WORKDIR/x-redis" "$WORKDIR/x-rb"
cp "$WORKDIR/ringbus/dump.rdb" "$WORKDIR/x-redis/dump.rdb"
cp "$WORKDIR/redis/dump.rdb" "$WORKDIR/x-rb/dump.rdb"
port=$(free_port)
redis_cmd "$port" "$WORKDIR/x-redis"
start_loaded x-redis 0 "$port" "$EXPECTED" "${REDIS_ARGV[@]}"
x1=$LOAD_SECS
stop "$port" "$LAUNCHED_PID"
port=$(free_port)
rb_cmd "$port" "$WORKDIR/x-rb" "$RB_THREADS"
start_loaded x-rb 0 "$port" "$EXPECTED" "${RB_ARGV[@]}"
x2=$LOAD_SECS
stop "$port" "$LAUNCHED_PID"

# -------------------------------------------------------------------- table
med() { median <"$WORKDIR/$1"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }'; }
f3() { awk -v a="$1" 'BEGIN { printf "%.3g", a }'; }
# A latency in ms; redis-benchmark's histogram stops at 3 s, so its 3000 is
# "3 s or more".
lat() { awk -v a="$1" 'BEGIN { if (a >= 3000) printf ">=3000"; else printf "%.3g", a }'; }

echo
echo "Dataset: $EXPECTED keys ($KEYS mixed + a stream of $STREAM entries); writers: SET -r $N_STR -d $WRITE_SIZE -c $CLIENTS -P $PIPELINE;" \
    "ringbus --threads $RB_THREADS; medians of $ROUNDS save rounds and $LOAD_ROUNDS load rounds."
echo
echo "| server | used_memory MB | RSS MB (after load → end) | quiet save s | save s under writes | peak extra RSS sum MB (% used) | peak extra PSS sum MB (% used) | writer p50/p99/max ms, save | same, no save | writer krps save / no save | longest wait for INFO s | save covered by writes | extra CPU s | file MB | load s: PONG (log) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for s in "${NAMES[@]}"; do
    used=$(med "$s.used")
    xrss=$(med "$s.xrss"); xpss=$(med "$s.xpss")
    if [[ $s == ringbus ]]; then
        label="ringbus (--threads $RB_THREADS)"; l=ringbus-t1
        [[ $RB_THREADS == 1 ]] || l=""
    else
        label="redis-server $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//')"; l=redis
    fi
    load="–"
    [[ -z $l ]] || load="$(printf '%.3f' "$(med "$l.load")") ($(med "$l.loadlog"))"
    printf '| %s | %s | %s → %s | %.3f | %.3f | %s (%s%%) | %s (%s%%) | %s/%s/%s | %s/%s/%s | %.1f / %.1f | %.3f | %s%% | %s | %s | %s |\n' \
        "$label" "$(mb "${USED[$s]}")" "$(mb "${RSS0[$s]}")" "$(mb "${RSS_END[$s]}")" "${QUIET[$s]}" "$(med "$s.secs")" \
        "$(mb "$xrss")" "$(pct "$xrss" "$used")" "$(mb "$xpss")" "$(pct "$xpss" "$used")" \
        "$(lat "$(med "$s.s50")")" "$(lat "$(med "$s.s99")")" "$(lat "$(med "$s.smax")")" \
        "$(lat "$(med "$s.b50")")" "$(lat "$(med "$s.b99")")" "$(lat "$(med "$s.bmax")")" \
        "$(awk -v a="$(med "$s.srps")" 'BEGIN { print a / 1000 }')" "$(awk -v a="$(med "$s.brps")" 'BEGIN { print a / 1000 }')" \
        "$(med "$s.gap")" "$(med "$s.cover")" "$(med "$s.cpu")" "${FILE_MB[$s]}" "$load"
done
printf '| ringbus (--threads 2, load only) | | | | | | | | | | | | | | %.3f (%s) |\n' \
    "$(med ringbus-t2.load)" "$(med ringbus-t2.loadlog)"
if [[ $RB_THREADS != 1 ]]; then
    printf '| ringbus (--threads 1, load only) | | | | | | | | | | | | | | %.3f (%s) |\n' \
        "$(med ringbus-t1.load)" "$(med ringbus-t1.loadlog)"
fi
echo
echo "redis-server rdb_last_cow_size (median): $(mb "$(med redis.cow)") MB"
echo "Interop: ringbus's file: $CHECK; redis-server loaded it ($EXPECTED keys) in $x1 s;" \
    "ringbus loaded redis-server's file ($EXPECTED keys) in $x2 s."
