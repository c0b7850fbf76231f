#!/usr/bin/python3
"""Read latency of python/datasnap_store (docs/BENCHMARKS.md).

  reader_bench.py STORE KEY ITERATIONS

Times, per call, with one Store opened once (as a web worker would):
  options       store.options(KEY): the steady state, a decoded version
                already cached (still one read transaction, the dataset
                record fetched and compared, the alias looked up);
  options_cold  the same with the caches emptied before every call: the
                version record decoded and its SHA-256 checked each time
                (what the first request after a new version pays);
  options_json  store.options_json(KEY): canonical bytes for an HTTP body.
The first 10% of calls of each are warm-up. Prints one JSON line
{"key","options","iterations","options":{"p50_us","p99_us"},...}.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../python"))

from datasnap_store import Store  # noqa: E402


def measure(fn, iterations, before=None):
    warmup = max(1, iterations // 10)
    times = []
    for i in range(warmup + iterations):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        t = (time.perf_counter() - t0) * 1e6
        if i >= warmup:
            times.append(t)
    times.sort()
    pick = lambda p: times[min(len(times) - 1, int(p * len(times)))]
    return {"p50_us": round(pick(0.5), 2), "p99_us": round(pick(0.99), 2)}


def main(path, key, iterations):
    store = Store(path)

    out = {"key": key, "options_count": len(store.options(key)), "iterations": iterations,
           "options": measure(lambda: store.options(key), iterations),
           "options_cold": measure(lambda: store.options(key), iterations, store.clear_cache),
           "options_json": measure(lambda: store.options_json(key), iterations)}
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
