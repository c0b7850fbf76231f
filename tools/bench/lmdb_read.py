#!/usr/bin/python3
"""Read latency of a dataset's current options from Python (docs/BENCHMARKS.md).

  lmdb_read.py STORE_MD STORE KEY ITERATIONS [decoded|json]

Runs docs/STORE.md's Python code block itself (exec'd from STORE_MD, as
//tests/store:python_reader_test does), with Debian's python3-lmdb, one read
transaction per call: decoded (default) times `current_options` (a list of
dicts), json times `current_options_json` (the stored bytes, SHA-256
checked, not decoded). The first 10% of calls are warm-up. Prints
{"key","mode","options","p50_us","p99_us","iterations"}.
"""
import json
import re
import sys
import time


def main(docs, path, key, iterations, mode):
    with open(docs, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    if len(blocks) != 1:
        sys.exit(f"lmdb_read.py: expected one python block in {docs}")
    reader = {}
    exec(blocks[0], reader)
    read = reader["current_options_json" if mode == "json" else "current_options"]
    store = reader["open_store"](path)
    warmup = max(1, iterations // 10)
    times = []
    for i in range(warmup + iterations):
        t0 = time.perf_counter()
        options = read(store, key)
        t = (time.perf_counter() - t0) * 1e6
        if options is None:
            sys.exit(f"lmdb_read.py: no current options of {key}")
        if i >= warmup:
            times.append(t)
    count = len(reader["current_options"](store, key))
    times.sort()
    pick = lambda p: times[min(len(times) - 1, int(p * len(times)))]
    print(json.dumps({"key": key, "mode": mode, "options": count,
                      "p50_us": round(pick(0.5), 3), "p99_us": round(pick(0.99), 3),
                      "iterations": iterations}))


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6) or (len(sys.argv) == 6 and sys.argv[5] not in ("decoded", "json")):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]),
         sys.argv[5] if len(sys.argv) == 6 else "decoded")
