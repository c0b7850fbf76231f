"""Stores for the tests, written by the real datasnap binary.

The Bazel wrapper (python/pytest_test.sh) sets DATASNAP (the binary),
FAKE_UPSTREAM (//tests/support:fake_upstream) and UPSTREAM_ROOT (the
mirror of tests/fixtures/upstream). `base_store` is refreshed once per run
against the fake upstream, then given user lists; tests that write copy it.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # python/: datasnap_store, django_example


def _need(var):
    value = os.environ.get(var)
    if not value:
        pytest.exit(f"{var} is not set: run these tests with `bazel test //python:all` "
                    f"(python/pytest_test.sh sets it)", returncode=2)
    return os.path.abspath(value)


class Datasnap:
    """Runs the datasnap binary on one store."""

    def __init__(self, binary, store, env):
        self.binary, self.store, self.env = binary, store, env

    def run(self, *args, check=True):
        p = subprocess.run([self.binary, "--store", self.store, "--actor", "pytest", *args],
                           env=self.env, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"datasnap {' '.join(args)} exited {p.returncode}:\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p

    def json(self, *args):
        return json.loads(self.run(*args).stdout)

    def popen(self, *args):
        return subprocess.Popen([self.binary, "--store", self.store, "--actor", "pytest",
                                 *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def at(self, store):
        return Datasnap(self.binary, store, self.env)


@pytest.fixture(scope="session")
def upstream_env():
    """A fake upstream serving the mirror on a free port of 127.0.0.1; the
    environment that points datasnap at it."""
    server = subprocess.Popen([_need("FAKE_UPSTREAM"), "--root", _need("UPSTREAM_ROOT"),
                               "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        base = server.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:"), f"fake upstream printed {base!r}"
        yield dict(os.environ, NHS_DD_BASE_URL=base + "/nhs_dd",
                   EXTERNAL_DATASET_API_URL=base + "/rcpch")
    finally:
        server.terminate()
        server.wait(timeout=10)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


@pytest.fixture(scope="session")
def base_store(tmp_path_factory, upstream_env):
    """The catalogue refreshed from the mirror, plus user lists:
    `wards` (acme's, two versions, a hierarchy), `clinics` (global, then
    deleted), `smoking_status_code_acme` (acme's customised copy),
    `beta_list` (globex's), `unicode_list` (global, non-ASCII labels)."""
    d = tmp_path_factory.mktemp("base")
    ds = Datasnap(_need("DATASNAP"), str(d / "datasnap.lmdb"), upstream_env)
    ds.run("refresh")
    ds.run("import", "wards", "--name", "Wards", "--org", "acme", "--file", write(
        d / "wards-1.csv", "value,label,parent\nN,North wing,\nN1,Ward N1,N\nS,South wing,\n"))
    ds.run("import", "wards", "--file", write(
        d / "wards-2.csv", "value,label,parent\nN,North wing,\nN1,Ward N1,N\n"
                           "N2,Ward N2,N\nS,South wing,\nS1,Ward S1,S\n"))
    ds.run("import", "clinics", "--name", "Clinics", "--file", write(
        d / "clinics.json", json.dumps([{"value": "c1", "label": "Clinic 1"}])))
    ds.run("delete", "clinics")
    ds.run("customise", "smoking_status_code", "--org", "acme")
    ds.run("import", "beta_list", "--name", "Beta", "--org", "globex", "--file", write(
        d / "beta.txt", "B1 - Beta one\nB2 - Beta two\n"))
    ds.run("import", "unicode_list", "--name", "Unicode", "--file", write(
        d / "unicode.json", json.dumps({"cy": "Cymraeg – Ysbyty Gwynedd",
                                        "q": 'Quote " and back\\slash', "e": "é 😀",
                                        # the fast path looks for this member:
                                        "t": 'x ,"options":[{"value":"y"}]}'},
                                       ensure_ascii=False)))
    return ds


@pytest.fixture
def store_copy(base_store, tmp_path):
    """A Datasnap on a private copy of base_store (the data file only)."""
    path = tmp_path / "copy.lmdb"
    shutil.copyfile(base_store.store, path)
    return base_store.at(str(path))
