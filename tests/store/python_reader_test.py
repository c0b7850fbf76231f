"""Reads a store that datasnap wrote with Python's lmdb module, using the
code block of docs/STORE.md itself, and compares every dataset with what
`datasnap show --json` says.

Usage: python_reader_test.py DOCS_STORE_MD DATASNAP MAKE_TEST_STORE
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def main():
    docs, datasnap, maker = sys.argv[1:4]
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

    for f in failures:
        print("FAILED:", f)
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
