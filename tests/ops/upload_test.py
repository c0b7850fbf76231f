"""datasnap upload against a real S3-compatible server (s3rver, npm: Debian
ships none) on 127.0.0.1: an export read back byte-equal with its headers;
a poller that never finds a missing or mismatching file during repeated
publishes; an upload cut off halfway leaves the old manifest live; prune
removes only unnamed files older than N days.

Arguments: the datasnap binary and tests/ops/s3/package.json. s3rver is in
node_modules beside the real package.json (the runfile is a link to it),
installed by tests/ops/s3/install (tools/dev setup and tools/dev test run
it); DATASNAP_TEST_S3RVER may name another bin/s3rver.js."""
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_support import Datasnap, Failures, describe, temp_dir  # noqa: E402

BUCKET = "lists"
PREFIX = "nightly/pub"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3rver:
    def __init__(self, script, workdir):
        self.port = free_port()
        self.torn_reads = 0
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "s3rver.log"), "w")
        self.proc = subprocess.Popen(
            ["node", script, "-d", os.path.join(workdir, "s3data"),
             "-a", "127.0.0.1", "-p", str(self.port), "--silent",
             "--no-vhost-buckets", "--configure-bucket", BUCKET],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/" + BUCKET, timeout=1)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("s3rver did not start")

    def get(self, key):
        """(status, body, headers) of an anonymous GET."""
        for _ in range(50):
            try:
                with urllib.request.urlopen(
                        f"{self.url}/{BUCKET}/{PREFIX}/{key}",
                        timeout=10) as r:
                    return r.status, r.read(), r.headers
            except urllib.error.HTTPError as e:
                return e.code, e.read(), e.headers
            except http.client.IncompleteRead:
                # s3rver (unlike S3) rewrites an object's file in place, so
                # a GET racing the PUT of a new manifest can be cut short:
                # read again. Content-named objects are never rewritten.
                self.torn_reads += 1
                time.sleep(0.05)
        raise RuntimeError(f"{key}: every read was cut short")

    def keys(self):
        """Every key under PREFIX (s3rver answers listings anonymously)."""
        with urllib.request.urlopen(
                f"{self.url}/{BUCKET}?list-type=2&prefix={PREFIX}/",
                timeout=10) as r:
            xml = r.read().decode()
        out = []
        for part in xml.split("<Key>")[1:]:
            out.append(part.split("</Key>")[0][len(PREFIX) + 1:])
        return set(out)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def named_files(manifest):
    """{path: (bytes, sha256)} of every file entry in a manifest."""
    out = {}

    def walk(j):
        if isinstance(j, dict):
            if isinstance(j.get("path"), str) and "sha256" in j:
                out[j["path"]] = (j.get("bytes"), j["sha256"])
            for v in j.values():
                walk(v)
        elif isinstance(j, list):
            for v in j:
                walk(v)
    walk(manifest)
    return out


def main():
    binary = os.path.abspath(sys.argv[1])
    package_dir = os.path.dirname(os.path.realpath(sys.argv[2]))
    script = os.environ.get("DATASNAP_TEST_S3RVER") or os.path.join(
        package_dir, "node_modules", "s3rver", "bin", "s3rver.js")
    if not os.path.isfile(script):
        print(f"{script} is missing: run tests/ops/s3/install (npm ci of "
              "tests/ops/s3/package-lock.json; tools/dev setup and "
              "tools/dev test run it)", file=sys.stderr)
        sys.exit(1)
    f = Failures()
    work = temp_dir()
    s3 = S3rver(script, work)
    try:
        run_all(f, binary, work, s3)
    finally:
        s3.close()
    f.finish()


def run_all(f, binary, work, s3):
    out = os.path.join(work, "export")
    ds = Datasnap(binary, work, extra_env={
        "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3.url})
    target = f"s3://{BUCKET}/{PREFIX}"
    generation = [0]

    def next_export():
        """Changes the lists (a new version of each, one new list every
        other time) and exports into the same directory, as nightly."""
        generation[0] += 1
        g = generation[0]
        for n in range(1 + g // 2):
            path = os.path.join(work, f"list{n}.csv")
            with open(path, "w") as fh:
                fh.write("value,label\n")
                for i in range(3 + g):
                    fh.write(f"{i:02d},Item {i} of generation {g}\n")
            r = ds.run("import", f"list_{n}", "--file", path, "--name",
                       f"List {n}")
            assert r.returncode == 0, describe(r)
        # An organisation's own list: orgs/acme/, private.
        r = ds.run("import", "acme_list", "--file", path, "--name",
                   "Acme's list", "--org", "acme")
        assert r.returncode == 0, describe(r)
        r = ds.run("export", "--out", out, "--fhir")
        assert r.returncode == 0, describe(r)

    def upload(*extra, env=None):
        return ds.run("upload", "--from", out, "--to", target, *extra,
                      env=env)

    def live_manifest(key="manifest.json"):
        """The live manifest, parsed; None when missing. s3rver (unlike S3,
        where a PUT is atomic) truncates an object's file and rewrites it in
        place, then its metadata: a GET racing the PUT of a new manifest
        may find it short, unparsable or briefly missing. Such reads are
        counted and retried; a manifest that stays missing is missing."""
        status = None
        for _ in range(50):
            status, body, _ = s3.get(key)
            if status == 200:
                try:
                    return json.loads(body)
                except ValueError:
                    pass
            s3.torn_reads += 1
            time.sleep(0.05)
        return None if status == 404 else json.loads(body)

    def live_names():
        """The files the live public and organisation manifests name."""
        names = named_files(live_manifest())
        for key in s3.keys():
            if key.startswith("orgs/") and key.endswith("/manifest.json"):
                names.update(named_files(live_manifest(key)))
        return names

    # 0. Bad arguments and settings: exit 2 before any request, saying what
    # to do.
    next_export()
    no_keys = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    key_file = os.path.join(work, "key-id")
    with open(key_file, "w") as fh:
        fh.write("S3RVER\n")
    for argv, env, says in [
        (["--from", out, "--to", "http://x/y"], None, "expected s3://BUCKET"),
        (["--from", out, "--to", "s3://Bad_Bucket/p"], None, "bucket name"),
        (["--from", work, "--to", target], None, "has no manifest.json"),
        (["--from", out, "--to", target], no_keys, "AWS_ACCESS_KEY_ID"),
        (["--from", out, "--to", target],
         {"AWS_ACCESS_KEY_ID_FILE": key_file}, "set only one"),
        (["--from", out, "--to", target, "--endpoint", "ftp://x"], None,
         "must start with https://"),
    ]:
        r = ds.run("upload", *argv, env=env)
        f.check(r.returncode == 2 and says in r.stderr,
                f"upload {argv} {env}: exit 2 saying {says!r}: " + describe(r))
    f.check(not s3.keys(), "nothing was uploaded by the refused runs")

    # 1. Publish; read every file back byte-equal with its headers. The key
    # id comes from a file this time.
    r = ds.run("upload", "--from", out, "--to", target, "--dry-run",
               env={"AWS_ACCESS_KEY_ID": "", "AWS_ACCESS_KEY_ID_FILE": key_file})
    f.check(r.returncode == 0 and "would upload manifest.json" in r.stdout
            and not s3.keys(), "a dry run uploads nothing: " + describe(r))
    r = upload()
    f.check(r.returncode == 0, "first upload: " + describe(r))
    local = {}
    for d, _, names in os.walk(out):
        for n in names:
            p = os.path.join(d, n)
            local[os.path.relpath(p, out)] = open(p, "rb").read()
    # The export's note to its next run stays at home, silently.
    f.check(local.pop(".datasnap-export.json", None) is not None,
            "the export wrote its record")
    f.check(s3.get(".datasnap-export.json")[0] == 404 and
            ".datasnap-export.json" not in r.stderr,
            "the record is not uploaded, and no warning names it: " + describe(r))
    f.check(any(k.startswith("orgs/acme/datasets/") for k in local) and
            "orgs/acme/manifest.json" in local,
            f"the export has an organisation's files: {sorted(local)}")
    for rel, data in sorted(local.items()):
        status, body, h = s3.get(rel)
        if not f.check(status == 200 and body == data,
                       f"{rel}: read back {status}, equal={body == data}"):
            continue
        manifest = rel.endswith("manifest.json") or rel.endswith(
            "manifest.json.gz")
        private = "private, " if rel.startswith("orgs/") else ""
        want_cache = private + "no-cache" if manifest else \
            (private or "public, ") + "max-age=31536000, immutable"
        want_type = ("application/zstd" if rel.endswith(".zst") else
                     "application/gzip" if rel.endswith(".gz") else
                     "application/json")
        f.check(h.get("Cache-Control") == want_cache,
                f"{rel}: Cache-Control {h.get('Cache-Control')!r}")
        f.check(h.get("Content-Type") == want_type,
                f"{rel}: Content-Type {h.get('Content-Type')!r}")
        f.check(h.get("Content-Encoding") is None,
                f"{rel}: Content-Encoding {h.get('Content-Encoding')!r}")
    again = upload()
    f.check(again.returncode == 0 and " 0 files " in again.stdout and
            "manifest unchanged" in again.stdout,
            "a second upload of the same export uploads nothing: " +
            describe(again))

    # 2. A poller reads the manifest and every file it names while
    # successive exports are published; it never finds one missing or
    # different from what the manifest says.
    stop = threading.Event()
    problems, polls, seen = [], [0], set()

    def poll():
        while not stop.is_set():
            m = live_manifest()
            org = live_manifest("orgs/acme/manifest.json")
            if m is None or org is None:
                problems.append("a manifest is missing")
                continue
            seen.add(json.dumps(m, sort_keys=True))
            names = named_files(m)
            names.update(named_files(org))
            for path, (size, sha) in names.items():
                status, body, _ = s3.get(path)
                if status != 200:
                    problems.append(f"{path}: {status}")
                elif hashlib.sha256(body).hexdigest() != sha or (
                        size is not None and len(body) != size):
                    problems.append(f"{path}: bytes differ from manifest")
            polls[0] += 1

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        for _ in range(5):
            next_export()
            r = upload()
            f.check(r.returncode == 0, "upload during polling: " + describe(r))
    finally:
        stop.set()
        poller.join(timeout=60)
    f.check(not problems, f"poller found {len(problems)} problems: "
            f"{problems[:5]}")
    f.check(polls[0] >= 5 and len(seen) >= 2,
            f"the poller ran {polls[0]} times and saw {len(seen)} manifests "
            "(expected several)")

    # 3. An upload cut off halfway (fault injected after one PUT): exit 1
    # naming the failure; the old manifest stays live, whole; a rerun
    # finishes.
    before = live_manifest()
    next_export()
    cut = upload(env={"DATASNAP_UPLOAD_FAIL_AFTER": "1"})
    f.check(cut.returncode == 1 and "injected fault" in cut.stderr and
            "no manifest was replaced" in cut.stderr,
            "an upload failing halfway exits 1 naming it: " + describe(cut))
    f.check(live_manifest() == before, "the old manifest stays live")
    for path in named_files(before):
        f.check(s3.get(path)[0] == 200, f"{path} (old manifest) still there")
    # Cut off between manifest.json.gz and manifest.json: the content and
    # the gzip manifest are new, manifest.json is still the old one.
    count = upload("--dry-run").stdout.count("would upload ")
    late = upload(env={"DATASNAP_UPLOAD_FAIL_AFTER": str(count - 1)})
    f.check(late.returncode == 1 and
            "manifest.json.gz is new, manifest.json is not" in late.stderr,
            "failing at the manifest: " + describe(late))
    f.check(live_manifest() == before, "the old manifest.json stays live")
    rerun = upload()
    f.check(rerun.returncode == 0 and "manifest replaced" in rerun.stdout,
            "the rerun finishes: " + describe(rerun))
    with open(os.path.join(out, "manifest.json"), "rb") as fh:
        f.check(s3.get("manifest.json")[1] == fh.read(),
                "after the rerun the new manifest is live")

    # 4. Prune: only unnamed files older than N days.
    live = live_names()
    unnamed = {k for k in s3.keys() if k not in live and
               not k.endswith("manifest.json") and
               not k.endswith("manifest.json.gz")}
    f.check(len(unnamed) >= 4, f"older versions left unnamed: {unnamed}")
    kept = upload("--prune-days", "30")
    f.check(kept.returncode == 0 and "; 0 pruned" in kept.stdout,
            "nothing is 30 days old: " + describe(kept))
    # An orphan uploaded now is younger than the rest (s3rver takes
    # anonymous PUTs). Listed times are whole seconds, so the margins are
    # seconds too: the rest are 8 s older, the orphan has 4 s (less up to
    # 1 s of rounding) before the prune below must have listed it.
    time.sleep(8)
    orphan = "datasets/orphan_list/1.000000000000.json.zst"
    put = urllib.request.Request(f"{s3.url}/{BUCKET}/{PREFIX}/{orphan}",
                                 data=b"not named by any manifest",
                                 method="PUT")
    f.check(urllib.request.urlopen(put, timeout=10).status == 200,
            "orphan upload")
    # Older than 4 s: the unnamed files from before the sleep, not the
    # orphan.
    pruned = upload("--prune-days", str(4 / 86400))
    f.check(pruned.returncode == 0, "prune: " + describe(pruned))
    left = s3.keys()
    f.check(not (unnamed & left), f"unnamed old files left: {unnamed & left}")
    f.check(orphan in left, "the young orphan is kept")
    final = live_names()
    f.check(any(p.startswith("orgs/acme/") for p in final),
            "the organisation's files are named")
    for path, (size, sha) in final.items():
        status, body, _ = s3.get(path)
        f.check(status == 200 and hashlib.sha256(body).hexdigest() == sha,
                f"{path}: named by a live manifest, kept by prune")
    print(f"{polls[0]} polls, {len(seen)} manifests seen, "
          f"{s3.torn_reads} torn reads of a manifest being replaced")


if __name__ == "__main__":
    main()
