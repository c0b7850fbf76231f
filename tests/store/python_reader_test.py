"""Reads a store that datasnap wrote with Python's lmdb module, using the
code block of docs/STORE.md itself, and compares every dataset with what
`datasnap show --json` says.

Usage: python_reader_test.py DOCS_STORE_MD DATASNAP MAKE_TEST_STORE SCHEMA1_STORE SCHEMA1_EXPECTED

SCHEMA1_STORE is a store of the previous layout: the reader must refuse it
with a message that says how to migrate it; datasnap must read it as it is
and after migrating it say what the previous release said
(SCHEMA1_EXPECTED: its `show --json`, `show --version N --json` and
`history --json` of every dataset).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def main():
    docs, datasnap, maker, schema1, schema1_expected = sys.argv[1:6]
    with open(docs, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    assert len(blocks) == 1, f"expected one python block in {docs}, found {len(blocks)}"
    example = {}
    exec(blocks[0], example)  # defines open_store and current_options

    tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    store = os.path.join(tmp, "reader.lmdb")
    subprocess.run([maker, store], check=True)

    def datasnap_json(*args):
        out = subprocess.run([datasnap, "--store", store, *args], check=True,
                             capture_output=True).stdout
        return json.loads(out)

    env = example["open_store"](store)
    failures = []
    checks = 0

    def check(condition, what):
        nonlocal checks
        checks += 1
        if not condition:
            failures.append(what)

    keys = [d["key"] for d in datasnap_json("list", "--json")]
    check(sorted(keys) == ["never_fetched", "smoking_status_code",
                           "text_edge_cases", "welsh_lhbs"], f"keys {keys}")
    for key in keys:
        shown = datasnap_json("show", key, "--json")
        expected = shown["options"] if shown["version"] is not None else None
        got = example["current_options"](env, key)
        check(got == expected, f"{key}: python read {got!r}, datasnap shows {expected!r}")
        raw = example["current_options_json"](env, key)
        canonical = (None if expected is None else json.dumps(
            expected, ensure_ascii=False, separators=(",", ":")).encode())
        check(raw == canonical, f"{key}: stored bytes {raw!r}, canonical {canonical!r}")
        if shown["version"] is not None:
            check(hashlib.sha256(raw).hexdigest() == shown["options_sha256"],
                  f"{key}: bytes do not hash to options_sha256")

    by_alias = example["current_options"](env, "smoking_status")
    check(by_alias is not None and len(by_alias) == 4, f"alias read {by_alias!r}")
    check(by_alias == example["current_options"](env, "smoking_status_code"),
          "alias and key differ")
    check(example["current_options"](env, "no_such_dataset") is None,
          "unknown key is not None")
    lhbs = example["current_options"](env, "welsh_lhbs")
    check(lhbs[1] == {"value": "7A1AU", "label": "Ysbyty Gwynedd – Bangor",
                      "parent": "7A1"}, f"parent option {lhbs[1]!r}")
    env.close()

    # A store of schema 1, untouched by any writer: a clear refusal.
    old = os.path.join(tmp, "schema1.lmdb")
    shutil.copyfile(schema1, old)
    try:
        example["open_store"](old)
        check(False, "schema-1 store opened without complaint")
    except RuntimeError as e:
        check("schema version b'1'" in str(e) and "migrate" in str(e),
              f"schema-1 message: {e}")
    with open(schema1_expected, encoding="utf-8") as f:
        previous = json.load(f)

    def same_as_previous_release(stage):
        for key, said in previous.items():
            def show(*args):
                out = subprocess.run([datasnap, "--store", old, *args], check=True,
                                     capture_output=True).stdout
                return json.loads(out)
            check(show("show", key, "--json") == said["show"], f"{stage}: show {key}")
            check(show("history", key, "--json") == said["history"],
                  f"{stage}: history {key}")
            for version, shown in said["versions"].items():
                check(show("show", key, "--version", version, "--json") == shown,
                      f"{stage}: show {key} --version {version}")

    same_as_previous_release("schema 1, read as it is")
    # After a writer opened it (any writing command migrates), it reads.
    subprocess.run([datasnap, "--store", old, "--actor", "test", "delete",
                    "no_such_dataset"], capture_output=True)
    same_as_previous_release("migrated")
    env = example["open_store"](old)
    migrated = example["current_options"](env, "smoking_status")
    check(migrated is not None and len(migrated) == 4, f"migrated read {migrated!r}")
    env.close()

    for f in failures:
        print("FAILED:", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
