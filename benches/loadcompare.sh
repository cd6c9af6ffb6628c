# The driver shared by the load-tool comparisons (pubsub-vs-redis.sh,
# queue-vs-redis.sh): start the server under test and redis-server pinned to
# CPU 0, run the tool pinned to CPU 1 against each in turn for every round
# and scenario, and print per-run lines and a table of medians.
#
# Source it after servers.sh, with these set: TOOL_NAME, LOAD_TOOL, DURATION,
# LOAD_ARGS, ROUNDS, SCENARIO_LIST, SERVER_NAME, SERVER_CMD, REDIS_SERVER,
# RAW_CSV; and these functions defined: `scenario_args SCENARIO` (the tool's
# flags for it, one per line) and `label SCENARIO` (its name in the table).
# Then call `compare_load`.

now_ns() {
    date +%s%N
}

# bench PORT PID SCENARIO -> prints the tool's CSV line followed by the
# server's CPU use in percent of one core over the run. Exits the script if
# the tool could not run at all (exit status 2, e.g. a command refused); a
# run with delivery errors (status 1) is kept and flagged.
bench() {
    local port=$1 pid=$2 scenario=$3
    local before after t0 t1 line status=0
    local -a extra args
    read -r -a extra <<<"$LOAD_ARGS"
    mapfile -t args < <(scenario_args "$scenario")
    before=$(cpu_ticks "$pid")
    t0=$(now_ns)
    line=$(taskset -c 1 "$LOAD_TOOL" --port "$port" "${args[@]}" \
        --seconds "$DURATION" --csv "${extra[@]}" 2>"$WORKDIR/load.err") || status=$?
    t1=$(now_ns)
    after=$(cpu_ticks "$pid")
    if ((status != 0 && status != 1)) || [[ -z $line ]]; then
        echo "$TOOL_NAME failed (status $status) on port $port, scenario $scenario:" >&2
        cat "$WORKDIR/load.err" >&2
        exit 1
    fi
    if ((status == 1)); then
        echo "$scenario on port $port: delivery errors: $line" >&2
        echo 1 >>"$WORKDIR/errors"
    fi
    awk -v line="$line" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v ns=$((t1 - t0)) \
        'BEGIN { printf "%s,%.0f\n", line, t / hz * 1e9 / ns * 100 }'
}

# record FILE-PREFIX CSV: keeps the fields the table needs, one file each.
# The tools' --csv fields: 5 msgs/s, 7 p50 us, 8 p99 us, the last one tool
# CPU %; bench adds one more, the server's CPU %.
record() {
    local prefix=$1 line=$2
    awk -F, -v p="$prefix" '{
        print $5 >>(p ".msgs"); print $7 >>(p ".p50"); print $8 >>(p ".p99"); print $NF >>(p ".cpu")
    }' <<<"$line"
}

compare_load() {
    local SUT_PORT SUT_PID REDIS_PORT REDIS_PID round scenario sut redis pair side field
    local -a SUT_ARGV
    start_pair
    echo "$TOOL_NAME: $LOAD_TOOL --seconds $DURATION $LOAD_ARGS" >&2

    for ((round = 1; round <= ROUNDS; round++)); do
        for scenario in "${SCENARIO_LIST[@]}"; do
            sut=$(bench "$SUT_PORT" "$SUT_PID" "$scenario")
            redis=$(bench "$REDIS_PORT" "$REDIS_PID" "$scenario")
            pair_alive
            record "$WORKDIR/$scenario.sut" "$sut"
            record "$WORKDIR/$scenario.redis" "$redis"
            for pair in "$SERVER_NAME:$sut" "redis:$redis"; do
                awk -F, -v round="$round" -v name="${pair%%:*}" -v s="$scenario" '{
                    printf "round %d  %-9s %-8s %10.0f msgs/s  p50 %8.1f us  p99 %8.1f us  server CPU %3d%%  tool CPU %3d%%\n",
                        round, s, name, $5, $7, $8, $NF, $(NF - 1) }' <<<"${pair#*:}" >&2
            done
            if [[ -n $RAW_CSV ]]; then
                echo "$SERVER_NAME,$round,$sut" >>"$RAW_CSV"
                echo "redis,$round,$redis" >>"$RAW_CSV"
            fi
        done
    done

    echo "| scenario | $SERVER_NAME msgs/s | redis msgs/s | ratio | $SERVER_NAME p50/p99 µs | redis p50/p99 µs | server CPU % $SERVER_NAME/redis |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for scenario in "${SCENARIO_LIST[@]}"; do
        declare -A m=()
        for side in sut redis; do
            for field in msgs p50 p99 cpu; do
                m[$side.$field]=$(median <"$WORKDIR/$scenario.$side.$field")
            done
        done
        awk -v s="$(label "$scenario")" -v a="${m[sut.msgs]}" -v b="${m[redis.msgs]}" \
            -v a50="${m[sut.p50]}" -v a99="${m[sut.p99]}" -v b50="${m[redis.p50]}" -v b99="${m[redis.p99]}" \
            -v acpu="${m[sut.cpu]}" -v bcpu="${m[redis.cpu]}" 'BEGIN {
            printf "| %s | %.0f | %.0f | %.2f | %.1f / %.1f | %.1f / %.1f | %.0f / %.0f |\n",
                s, a, b, (b > 0 ? a / b : 0), a50, a99, b50, b99, acpu, bcpu }'
    done

    if [[ -s $WORKDIR/errors ]]; then
        echo "$(wc -l <"$WORKDIR/errors") run(s) reported delivery errors (see above)" >&2
        exit 1
    fi
}
