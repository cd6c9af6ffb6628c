#!/usr/bin/env bash
# Run benches/vs-redis.sh for every runtime variant; results land in results/.
# Usage: ./run-all.sh [VARIANT...]   (VARIANT = <runtime>:<flags>, e.g. monoio:coop)
set -euo pipefail
cd "$(dirname "$0")"
# In the ringbus repo (spikes/runtime/) use its script; otherwise set VS_REDIS.
SCRIPT=${VS_REDIS:-$(cd ../.. && pwd)/benches/vs-redis.sh}
[[ -x $SCRIPT ]] || SCRIPT=/work/main/benches/vs-redis.sh
cargo build --release --quiet
variants=("$@")
[[ ${#variants[@]} -gt 0 ]] || variants=(glommio:default compio:default compio:coop compio:defer
    monoio:default monoio:coop monoio:defer)
for v in "${variants[@]}"; do
    rt=${v%%:*} flags=${v#*:}
    echo "=== $v ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
    SERVER_NAME="$rt-$flags" SERVER_CMD="$PWD/target/release/spike-$rt {port} $flags" \
        RAW_CSV="$PWD/results/raw.csv" "$SCRIPT" >"results/$rt-$flags.txt" 2>"results/$rt-$flags.log"
    cat "results/$rt-$flags.txt"
done
