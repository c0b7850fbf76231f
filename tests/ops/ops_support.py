"""Shared by the operations tests: the real datasnap binary run as a
nightly job would run it, against the fake upstream server serving a copy
of tests/fixtures/upstream on 127.0.0.1."""
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Failures:
    """Collects failed checks; the test fails at the end, listing them."""

    def __init__(self):
        self.failed = []

    def check(self, ok, what):
        if not ok:
            self.failed.append(what)
            print("FAIL:", what, file=sys.stderr)
        return ok

    def finish(self):
        if self.failed:
            print(f"{len(self.failed)} check(s) failed", file=sys.stderr)
            sys.exit(1)
        print("all checks passed")


class Upstream:
    """fake_upstream serving a private copy of the mirrors (tests may break
    pages in it), stopped by close()."""

    def __init__(self, fake_upstream, mirror_root, workdir):
        self.root = os.path.join(workdir, "upstream")
        shutil.copytree(mirror_root, self.root)
        self.proc = subprocess.Popen(
            [fake_upstream, "--root", self.root, "--port", "0"],
            stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"fake_upstream printed {self.url!r}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class Datasnap:
    """Runs the datasnap binary with a store in `workdir` and the
    upstream's URLs; every run is bounded in time."""

    def __init__(self, binary, workdir, upstream=None, extra_env=None):
        self.binary = binary
        self.store = os.path.join(workdir, "datasnap.lmdb")
        self.env = {"PATH": "/usr/bin:/bin", "USER": "tester",
                    "DATASNAP_STORE": self.store}
        if upstream is not None:
            self.env["NHS_DD_BASE_URL"] = upstream.url + "/nhs_dd"
            self.env["EXTERNAL_DATASET_API_URL"] = upstream.url + "/rcpch"
        self.env.update(extra_env or {})

    def run(self, *args, env=None, timeout=300):
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([self.binary, *args], env=e, text=True,
                              capture_output=True, timeout=timeout)


def describe(r):
    return (f"exit {r.returncode}\n--- stdout ---\n{r.stdout[-3000:]}"
            f"\n--- stderr ---\n{r.stderr[-3000:]}")


def temp_dir():
    return tempfile.mkdtemp(prefix="datasnap-ops-",
                            dir=os.environ.get("TEST_TMPDIR"))
