#!/usr/bin/python3
"""Read latency of a dataset's current options from Python (docs/BENCHMARKS.md).

  lmdb_read.py STORE KEY ITERATIONS

Uses docs/STORE.md's reader as it is (one read transaction per call, JSON
decoding, the SHA-256 check), with Debian's python3-lmdb. The first 10% of
calls are warm-up. Prints {"key","options","p50_us","p99_us","iterations"}.
"""
import hashlib
import json
import struct
import sys
import time

import lmdb


def open_store(path):
    return lmdb.open(path, subdir=False, readonly=True, lock=True, max_dbs=8)


def current_options(env, key):  # docs/STORE.md, "Reading the current options"
    with env.begin() as txn:
        aliases = env.open_db(b"aliases", txn=txn, create=False)
        datasets = env.open_db(b"datasets", txn=txn, create=False)
        versions = env.open_db(b"versions", txn=txn, create=False)
        key = (txn.get(key.encode(), db=aliases) or key.encode()).decode()
        raw = txn.get(key.encode(), db=datasets)
        if raw is None:
            return None
        dataset = json.loads(raw)
        if dataset["version"] == 0:
            return None
        version_key = key.encode() + b"\x00" + struct.pack(">I", dataset["version"])
        record = json.loads(txn.get(version_key, db=versions))
    options = record["options"]
    canonical = json.dumps(options, ensure_ascii=False, separators=(",", ":"))
    if hashlib.sha256(canonical.encode()).hexdigest() != record["options_sha256"]:
        raise ValueError(f"options of {key} do not match their SHA-256")
    return options


def main(path, key, iterations):
    env = open_store(path)
    warmup = max(1, iterations // 10)
    times = []
    for i in range(warmup + iterations):
        t0 = time.perf_counter()
        options = current_options(env, key)
        t = (time.perf_counter() - t0) * 1e6
        if options is None:
            sys.exit(f"lmdb_read.py: no current options of {key}")
        if i >= warmup:
            times.append(t)
    times.sort()
    pick = lambda p: times[min(len(times) - 1, int(p * len(times)))]
    print(json.dumps({"key": key, "options": len(options), "p50_us": round(pick(0.5), 2),
                      "p99_us": round(pick(0.99), 2), "iterations": iterations}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
