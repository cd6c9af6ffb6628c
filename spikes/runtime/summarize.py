#!/usr/bin/env python3
"""Turn results/<runtime>-<variant>.txt (vs-redis.sh tables) into one markdown table."""
import pathlib
import sys

order = sys.argv[1:] or sorted(p.stem for p in pathlib.Path("results").glob("*.txt"))
print("| variant | test | P | median rps | redis median | ratio |")
print("|---|---|---:|---:|---:|---:|")
for name in order:
    lines = pathlib.Path(f"results/{name}.txt").read_text().splitlines()[1:]
    for line in lines:
        test, p, sut, redis, ratio = line.split()
        print(f"| {name} | {test} | {p} | {int(sut):,} | {int(redis):,} | {ratio} |")
