"""The reader beside a running writer: map growth (MDB_MAP_RESIZED) and
reads in a loop while `datasnap import` and `datasnap refresh` write."""
import threading
import time

import lmdb

from datasnap_store import Option, Store
from conftest import write


def big_csv(path, n, tag, pad=120):
    rows = "".join(f"{tag}{i:06d},{tag} option {i:06d} {'x' * pad}\n" for i in range(n))
    return write(path, "value,label\n" + rows)


def test_reader_adopts_a_map_the_writer_grew(store_copy, tmp_path):
    """datasnap creates a 64 MiB map and doubles it when a write finds it
    full: a 100,000-option list of ~700-byte labels (~72 MB) makes it grow
    to 128 MiB. A reader opened before, and threads reading all along, adopt
    the new size (one MDB_MAP_RESIZED) and read on."""
    path = store_copy.store
    s = Store(path)
    before = s._env.info()["map_size"]
    assert before == 64 << 20
    smoking = s.options("smoking_status_code")
    stop, errors, reads = threading.Event(), [], [0]

    def reader():
        try:
            while not stop.is_set():
                assert s.options("smoking_status_code") == smoking
                reads[0] += 1
                time.sleep(0.001)  # two cores: leave the writer some
        except BaseException as e:  # reported below
            errors.append(e)
            stop.set()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        store_copy.run("import", "big", "--name", "Big",
                       "--file", big_csv(tmp_path / "big.csv", 100000, "B", pad=700))
        options = s.options("big")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert reads[0] > 0
    assert s.map_resizes == 1, "the reader should have seen MDB_MAP_RESIZED once"
    assert s._env.info()["map_size"] == 128 << 20
    assert len(options) == 100000
    assert options[-1] == Option("B099999", "B option 099999 " + "x" * 700)
    history = store_copy.json("history", "big", "--json")  # show --json: 5 s more
    assert [h["options_sha256"] for h in history] == [s.options_json("big").sha256]
    assert s.options("smoking_status_code") == smoking
    s.close()


def test_reader_loop_while_datasnap_writes(store_copy, tmp_path):
    """Imports write new versions of `churn` (sizes alternating between 3 and
    3000 options), with `refresh --force` runs in
    between. Readers never see a partial version, a mixed one, an older one
    after a newer, or a hash mismatch (which would raise CorruptRecord)."""
    path = store_copy.store
    sizes = [3 if i % 2 else 3000 for i in range(12)]
    files = [big_csv(tmp_path / f"churn-{i}.csv", n, f"V{i}x") for i, n in enumerate(sizes)]
    store_copy.run("import", "churn", "--name", "Churn", "--file", files[0])
    catalogue = {}
    with Store(path) as s:
        for key in s.keys("nhs_dd") + s.keys("rcpch"):
            catalogue[key] = s.options(key)

    stop, errors, seen = threading.Event(), [], []

    def reader():
        try:
            s, last = shared, 0
            while not stop.is_set():
                snap = s.options_json("churn")
                options = s.options("churn")
                v = s.dataset("churn").version
                assert snap.version >= last and v >= snap.version
                last = snap.version
                tags = {o.value.split("x")[0] for o in options}
                assert len(tags) == 1, f"a mixed version: {sorted(tags)[:3]}"
                tag = tags.pop()
                assert len(options) == sizes[int(tag[1:])]
                for key in ("smoking_status_code", "welsh_lhbs"):
                    assert s.options(key) == catalogue[key]
                seen.append(snap.version)
        except BaseException as e:
            errors.append(e)
            stop.set()

    shared = Store(path)  # one per process: LMDB forbids opening a file twice
    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i, f in enumerate(files[1:], start=1):
            if stop.is_set():
                break
            store_copy.run("import", "churn", "--file", f)
            if i % 4 == 0:
                store_copy.run("refresh", "--force")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    versions = set(seen)
    assert len(versions) >= 2, f"readers saw only versions {sorted(versions)}"
    shared.close()
    with Store(path) as s:
        assert s.dataset("churn").version == len(files)
        for key, options in catalogue.items():
            assert s.options(key) == options
        assert [v.version for v in s.versions("churn")] == list(range(1, len(files) + 1))
