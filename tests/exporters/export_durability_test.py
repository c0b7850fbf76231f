"""Each file's bytes are durable before a manifest names it.

Usage: export_durability_test.py DATASNAP MAKE_EXPORT_STORE SYNC_SPY_SO

Runs `datasnap export` (a fresh directory, then again after the directory
lost files, with --verify and without the export's record) with
sync_spy.so preloaded, which logs every fsync and rename
in the order they completed, and checks, for each run:
  - every file renamed into place was synced (under its temporary name)
    before the rename;
  - its directory was synced after the rename and before any manifest was
    renamed into place;
  - the manifests are renamed last, public manifest.json last of them,
    and the export's record after them;
  - every file the final manifests list was either there before the run or
    renamed into place (durably, as above) before the manifests.
"""
import json
import os
import subprocess
import sys
import tempfile

datasnap, make_store, spy = (os.path.abspath(p) for p in sys.argv[1:4])
failures = []
# The export's note to its next run (exporters/export_record.h).
RECORD = ".datasnap-export.json"


def check(ok, message):
    if not ok:
        failures.append(message)


def listed(root):
    paths = set()
    manifests = [os.path.join(root, "manifest.json")]
    orgs = os.path.join(root, "orgs")
    if os.path.isdir(orgs):
        manifests += [os.path.join(orgs, o, "manifest.json") for o in os.listdir(orgs)]
    for m in manifests:
        for d in json.load(open(m))["datasets"]:
            docs = [d["snapshot"]] + d["diffs"] + d.get("older_snapshots", [])
            for doc in docs:
                paths.update(f["path"] for f in doc["files"])
            if "fhir" in d:
                paths.add(d["fhir"]["path"])
    return paths


def export(store, out, label, extra=()):
    before = set()
    for dirpath, _, files in os.walk(out):
        before.update(os.path.relpath(os.path.join(dirpath, f), out) for f in files)
    log = os.path.join(os.path.dirname(out), label + ".log")
    env = dict(os.environ, LD_PRELOAD=spy, SYNC_SPY_LOG=log,
               # Under --config=asan the runtime must still come first.
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    subprocess.run([datasnap, "--store", store, "export", "--out", out, "--fhir",
                    "--all-versions", *extra], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    events = [line.rstrip("\n").split(" ") for line in open(log)]
    check(events, f"{label}: the spy logged nothing (is it preloaded?)")
    synced = {}  # path -> index of its last fsync
    renamed = {}  # final path -> index of its rename
    manifest_at = []
    record_at = None
    for i, e in enumerate(events):
        if e[0] == "fsync":
            synced[e[1]] = i
        elif e[0] == "rename":
            src, dst = e[1], e[2]
            rel = os.path.relpath(dst, out)
            check(synced.get(src, len(events)) < i,
                  f"{label}: {rel} renamed into place before its bytes were synced")
            if rel == RECORD:
                record_at = i
            elif os.path.basename(rel) in ("manifest.json", "manifest.json.gz"):
                manifest_at.append((i, rel))
            else:
                check(not manifest_at, f"{label}: {rel} renamed after a manifest")
                renamed[rel] = i
    # An unchanged manifest is not written at all.
    check(not manifest_at or manifest_at[-1][1] == "manifest.json",
          f"{label}: manifest.json is not the last file renamed: {manifest_at}")
    check(manifest_at or label != "fresh", f"{label}: no manifest written")
    # The export's record names the manifests' bytes: written after them.
    check(record_at is not None or label != "fresh", f"{label}: no record written")
    check(record_at is None or not manifest_at or record_at > manifest_at[-1][0],
          f"{label}: the record was written before the manifests")
    first_manifest = manifest_at[0][0] if manifest_at else len(events)
    for rel, i in renamed.items():
        directory = os.path.dirname(os.path.join(out, rel))
        check(any(events[j][0] == "fsync" and events[j][1] == directory
                  for j in range(i + 1, first_manifest)),
              f"{label}: the directory of {rel} was not synced before the manifests")
    for rel in listed(out):
        check(rel in before or rel in renamed,
              f"{label}: the manifest lists {rel}, neither there before nor "
              "durably written")
    return renamed


with tempfile.TemporaryDirectory() as tmp:
    store = os.path.join(tmp, "store.lmdb")
    subprocess.run([make_store, store], check=True)
    out = os.path.join(tmp, "out")
    written = export(store, out, "fresh")
    check(len(written) > 20, f"fresh: only {len(written)} files written")
    # Files gone from a tree: --verify writes them again, durably (a plain
    # export trusts the tree its record describes).
    gone = sorted(p for p in written if p.startswith("datasets/"))[:3]
    for p in gone:
        os.remove(os.path.join(out, p))
    again = export(store, out, "repair", ["--verify"])
    check(set(gone) <= set(again), f"repair: {gone} not all written again: {sorted(again)}")
    # The same without the record: a plain export reads everything.
    for p in gone:
        os.remove(os.path.join(out, p))
    os.remove(os.path.join(out, RECORD))
    again = export(store, out, "no-record")
    check(set(gone) <= set(again), f"no-record: {gone} not all written again: {sorted(again)}")

for f in failures:
    print("FAIL:", f)
print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
