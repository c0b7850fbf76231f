"""The nightly job's machine-readable side, on the real binary against the
fake upstream: `refresh --json FILE|-` validated against
docs/schemas/refresh-report.schema.json (python3-jsonschema) and checked
against the store and the export; `status --check [--max-age]` and
`status --json`; a store held by another writer exits 75 (EX_TEMPFAIL).

Usage: run_report_test.py DATASNAP FAKE_UPSTREAM SCHEMA MIRROR_FILE
  (MIRROR_FILE: any file of tests/fixtures/upstream/rcpch, to find the
  mirrors in the runfiles)
"""
import fcntl
import json
import os
import sys
import time

import jsonschema

from ops_support import Datasnap, Failures, Upstream, describe, temp_dir

DATASETS = 55  # the catalogue: 48 NHS Data Dictionary pages, 7 RCPCH lists
BROKEN_PAGE = "nhs_dd/data_elements/ethnic_category.html"
BROKEN_KEY = "ethnic_category"


def main():
    datasnap_bin, fake_upstream, schema_path, mirror_file = sys.argv[1:5]
    mirror_root = os.path.dirname(os.path.dirname(os.path.abspath(mirror_file)))
    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    t = Failures()

    def valid(report, what):
        errors = sorted(validator.iter_errors(report), key=str)
        for e in errors[:5]:
            print(f"  {what}: {e.json_path}: {e.message}", file=sys.stderr)
        return t.check(not errors, f"{what} validates against the schema")

    work = temp_dir()
    upstream = Upstream(fake_upstream, mirror_root, work)
    try:
        ds = Datasnap(datasnap_bin, work, upstream)
        out = os.path.join(work, "export")
        report_file = os.path.join(work, "reports", "run.json")
        os.makedirs(os.path.dirname(report_file))

        # 1. A first run on an empty store: everything new, exported.
        r = ds.run("refresh", "--out", out, "--json", report_file)
        t.check(r.returncode == 0, "first refresh exits 0: " + describe(r))
        t.check("DATASET" in r.stdout, "--json FILE keeps the table on stdout")
        with open(report_file) as f:
            first = json.load(f)
        valid(first, "first report")
        t.check(not any(n.startswith("run.json.tmp") for n in
                        os.listdir(os.path.dirname(report_file))),
                "no temporary report file left")
        t.check(first["exit_status"] == 0 and first["error"] is None,
                "first report: exit_status 0, no error")
        t.check(first["seeded"] == DATASETS, f"seeded {first['seeded']}")
        t.check(first["totals"] == {"datasets": DATASETS, "new": DATASETS,
                                    "updated": 0, "unchanged": 0,
                                    "not_due": 0, "failed": 0},
                f"first totals {first['totals']}")
        keys = [d["key"] for d in first["datasets"]]
        t.check(len(set(keys)) == DATASETS, "every dataset once")
        status = json.loads(ds.run("status", "--json").stdout)
        by_key = {s["key"]: s for s in status}
        for d in first["datasets"]:
            s = by_key.get(d["key"])
            t.check(s is not None and d["version"] == s["version"] == 1 and
                    d["option_count"] == s["option_count"] and
                    d["previous_version"] is None and
                    d["url"].startswith(upstream.url),
                    f"{d['key']}: report agrees with status: {d}")
        e = first["export"]
        t.check(e is not None and e["ok"] and e["out_dir"] == out,
                f"export reported ok: {e}")
        t.check(e["written"] and e["written"][-1].startswith("manifest.json"),
                "written ends with the manifest")
        t.check(all(os.path.isfile(os.path.join(out, p)) for p in e["written"]),
                "every written file exists")
        t.check(e["files_written"] == len(e["written"]),
                "files_written counts written")
        t.check(first["duration_seconds"] >= 0 and
                first["started_at"] <= first["finished_at"], "times")

        # 2. status --check on a healthy store.
        r = ds.run("status", "--check")
        t.check(r.returncode == 0 and "healthy" in r.stdout,
                "status --check exits 0 when all is well: " + describe(r))
        t.check(all(not s["failed"] and not s["overdue"] and
                    s["problem"] is None for s in status),
                "status --json: nothing failed or overdue")

        # 3. One page breaks upstream; --json - carries the report alone.
        os.remove(os.path.join(upstream.root, BROKEN_PAGE))
        r = ds.run("refresh", "--force", "--out", out, "--json", "-")
        t.check(r.returncode == 1, "a failed dataset: exit 1: " + describe(r))
        try:
            second = json.loads(r.stdout)
        except ValueError as err:
            t.check(False, f"--json - prints only JSON on stdout: {err}")
            second = None
        if second is not None:
            valid(second, "second report")
            t.check(second["exit_status"] == 1, "second exit_status 1")
            t.check(second["totals"]["failed"] == 1 and
                    second["totals"]["unchanged"] == DATASETS - 1,
                    f"second totals {second['totals']}")
            failed = [d for d in second["datasets"] if d["outcome"] == "failed"]
            t.check(len(failed) == 1 and failed[0]["key"] == BROKEN_KEY and
                    "404" in failed[0]["error"] and failed[0]["version"] == 1,
                    f"the broken page is the failure, version 1 kept: {failed}")
            t.check(second["export"]["ok"] and
                    second["export"]["manifest_changed"] is False,
                    "the export still runs, the manifest unchanged")
        t.check("DATASET" in r.stderr, "with --json -, the table is on stderr")
        t.check(f"datasnap: error: {BROKEN_KEY}: " in r.stderr,
                "the failure is named on stderr")

        # 4. status --check now names it; --json says the same.
        r = ds.run("status", "--check")
        t.check(r.returncode == 1, "status --check exits 1: " + describe(r))
        t.check(f"  {BROKEN_KEY}: failed: " in r.stderr and
                "1 of 55 datasets need attention" in r.stderr,
                "status --check names the failed dataset: " + r.stderr)
        r = ds.run("status", "--check", "--json")
        t.check(r.returncode == 1, "status --check --json exits 1 too")
        rows = {s["key"]: s for s in json.loads(r.stdout)}
        t.check(rows[BROKEN_KEY]["failed"] and
                rows[BROKEN_KEY]["problem"].startswith("failed: "),
                f"status --json marks it failed: {rows[BROKEN_KEY]}")
        t.check(sum(s["failed"] or s["overdue"] for s in rows.values()) == 1,
                "only that one")

        # 5. --max-age: nothing fetched in the last 0.0003 hours (about 1 s).
        # Times are stored in whole seconds: after 2.1 s the difference of
        # the stored times is at least 2 s, whatever the fractions were
        # (1.5 s could leave it at 1, under the limit: a flaky check).
        time.sleep(2.1)
        r = ds.run("status", "--check", "--max-age", "0.0003")
        t.check(r.returncode == 1, "--max-age: overdue exits 1")
        t.check("55 of 55 datasets need attention" in r.stderr and
                "more than --max-age 0.0003 hours" in r.stderr,
                "--max-age names every dataset overdue: " + r.stderr[:500])
        r = ds.run("status", "--check", "--max-age", "24", "--json")
        rows = json.loads(r.stdout)
        t.check(not any(s["overdue"] for s in rows), "--max-age 24: none overdue")
        r = ds.run("status", "--max-age", "0")
        t.check(r.returncode == 2, "--max-age 0 is a usage error")

        # 6. The page is back: the dataset recovers, the check passes.
        upstream.close()
        upstream = Upstream(fake_upstream, mirror_root, temp_dir())
        ds = Datasnap(datasnap_bin, work, upstream)
        r = ds.run("refresh", "--force", "--dataset", BROKEN_KEY)
        t.check(r.returncode == 0, "refresh of the repaired page: " + describe(r))
        t.check(ds.run("status", "--check").returncode == 0,
                "status --check passes again")

        # 7. Nothing could run: still a report, exit 2, with the reason.
        r = ds.run("--catalogue", os.path.join(work, "missing"), "refresh",
                   "--json", report_file)
        t.check(r.returncode == 2, "no catalogue: exit 2: " + describe(r))
        with open(report_file) as f:
            broken = json.load(f)
        valid(broken, "nothing-ran report")
        t.check(broken["exit_status"] == 2 and "missing" in broken["error"] and
                broken["datasets"] == [] and broken["export"] is None,
                f"nothing-ran report: {broken}")

        # 8. Another writer holds the store: 75, retry later, nothing done.
        wards = os.path.join(work, "wards.csv")
        with open(wards, "w") as f:
            f.write("value,label\nW1,Ward 1\n")
        with open(ds.store + "-writer", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for args in (["refresh", "--out", out], ["seed-nhs-dd"],
                         ["import", "wards", "--name", "W", "--file", wards]):
                r = ds.run("--wait-for-writer", "0", *args)
                t.check(r.returncode == 75,
                        f"{args[0]} on a busy store exits 75: " + describe(r))
                t.check("being written by another process" in r.stderr,
                        f"{args[0]}: the message says why")
            r = ds.run("--wait-for-writer", "0", "refresh", "--json", "-")
            busy = json.loads(r.stdout)
            valid(busy, "busy report")
            t.check(busy["exit_status"] == 75 and busy["error"],
                    f"busy report: {busy['exit_status']} {busy['error']}")
            t.check(ds.run("status").returncode == 0,
                    "readers never wait for the writer")
        r = ds.run("--wait-for-writer", "0", "refresh")
        t.check(r.returncode == 0, "after the writer: exit 0: " + describe(r))
    finally:
        upstream.close()
    t.finish()


if __name__ == "__main__":
    main()
