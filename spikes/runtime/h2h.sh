#!/usr/bin/env bash
# Head-to-head: several spike servers + redis-server, all up at once on CPU 0,
# benchmarked in turn (redis-benchmark on CPU 1) for every round/test/pipeline,
# so machine noise hits every server alike. Prints median rps per server.
# Usage: ./h2h.sh [runtime:variant ...]
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-ping_mbulk set get mset}
PIPELINES=${PIPELINES:-1 16}
servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=(glommio:default compio:default compio:coop monoio:default monoio:coop monoio:defer)
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A port
for s in "${servers[@]}" redis; do
    port[$s]=$(free_port)
    if [[ $s == redis ]]; then
        taskset -c 0 redis-server --port "${port[$s]}" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
    else
        taskset -c 0 "target/release/spike-${s%%:*}" "${port[$s]}" "${s#*:}" >/dev/null 2>&1 &
    fi
    pids+=($!)
    until [[ $(redis-cli -p "${port[$s]}" ping 2>/dev/null) == PONG ]]; do sleep 0.1; done
done
for ((r = 1; r <= ROUNDS; r++)); do
    for t in $TESTS; do
        for p in $PIPELINES; do
            for s in "${servers[@]}" redis; do
                rps=$(taskset -c 1 redis-benchmark -p "${port[$s]}" -c 50 -n $((100000 * p)) -P "$p" -t "$t" --csv -q 2>/dev/null |
                    awk -F'","' 'NR == 2 { print $2 }')
                echo "$rps" >>"$dir/$t.$p.${s/:/-}"
                echo "round $r $t P=$p $s $rps" >&2
            done
        done
    done
done
printf '%-12s %3s' test P
for s in "${servers[@]}" redis; do printf ' %15s' "$s"; done
echo
for t in $TESTS; do
    for p in $PIPELINES; do
        printf '%-12s %3s' "$t" "$p"
        for s in "${servers[@]}" redis; do
            printf ' %15.0f' "$(sort -g "$dir/$t.$p.${s/:/-}" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')"
        done
        echo
    done
done
