"""datasnap_store.Store against stores the datasnap binary wrote, compared
with what `datasnap show/list/history --json` print."""
import hashlib
import json
import os
import re
import shutil
import struct

import lmdb
import pytest

from datasnap_store import (CorruptRecord, DatasetDeleted, KeyNotFound, Option,
                            SchemaTooNew, Store, StoreError, VersionNotFound,
                            canonical_options_json, flat_choices, grouped_choices)

DATASET_FIELDS = ("key", "name", "description", "category", "source_type",
                  "reference_url", "api_endpoint", "tags", "aliases",
                  "sync_frequency_hours", "is_custom", "is_global", "parent",
                  "organization", "is_active", "option_count", "last_synced_at",
                  "last_scraped", "last_checked_at", "last_error", "created_at",
                  "updated_at")


# The schema-1 fixture (//tests/fixtures:store_schema1), in the runfiles.
SCHEMA1_STORE = "tests/fixtures/store/schema1.lmdb"
SCHEMA1_EXPECTED = "tests/fixtures/store/schema1_expected.json"


@pytest.fixture
def schema1_copy(tmp_path):
    path = tmp_path / "schema1.lmdb"
    shutil.copyfile(SCHEMA1_STORE, path)
    return str(path)


def as_dicts(options):
    return [o.as_dict() for o in options]


@pytest.fixture(scope="module")
def store(base_store):
    with Store(base_store.store) as s:
        yield s


def test_every_dataset_matches_datasnap_show(store, base_store):
    listed = base_store.json("list", "--json")
    assert store.keys() == [d["key"] for d in listed]
    assert len(listed) >= 55 + 4
    for entry in listed:
        key = entry["key"]
        shown = base_store.json("show", key, "--json")
        d = store.dataset(key)
        for field in DATASET_FIELDS:
            got = getattr(d, field)
            assert (list(got) if isinstance(got, tuple) else got) == shown[field], (key, field)
        assert d.version == (shown["version"] or 0)
        if shown["version"] is None:
            with pytest.raises(VersionNotFound):
                store.options(key)
            continue
        options = store.options(key)
        assert as_dicts(options) == shown["options"], key
        assert d.options_sha256 == shown["options_sha256"]
        canonical = store.options_json(key)
        assert canonical.json == canonical_options_json(shown["options"])
        assert (canonical.key, canonical.version, canonical.sha256) == (
            key, shown["version"], shown["options_sha256"])
        current = store.current_version(key)
        assert current.provenance.__getattribute__("source_url") == \
            shown["provenance"]["source_url"]
        assert current.created_at == shown["version_created_at"]


def test_versions_and_version_match_history(store, base_store):
    history = base_store.json("history", "wards", "--json")
    versions = store.versions("wards")
    assert [v.version for v in versions] == [1, 2]
    for v, h in zip(versions, history):
        assert (v.key, v.version, v.created_at, v.option_count, v.options_sha256) == (
            h["key"], h["version"], h["created_at"], h["option_count"], h["options_sha256"])
        assert v.options is None and v.options_json is None
        assert {f: getattr(v.provenance, f) for f in h["provenance"]} == h["provenance"]
        old = store.version("wards", v.version)
        shown = base_store.json("show", "wards", "--version", str(v.version), "--json")
        assert as_dicts(old.options) == shown["options"]
        assert old.options_sha256 == h["options_sha256"]
    assert [o.value for o in store.version("wards", 1).options] == ["N", "N1", "S"]
    assert store.options("wards") == store.version("wards", 2).options
    cached = store.options("wards")
    store.clear_cache()
    assert store.options("wards") == cached and store.options("wards") is not cached


def test_options_are_immutable_options():
    o = Option("1", "One")
    with pytest.raises(Exception):
        o.value = "2"
    assert o.as_dict() == {"value": "1", "label": "One"}
    assert Option("1", "One", "0", True).as_dict() == {
        "value": "1", "label": "One", "parent": "0", "default": True}


def test_default_codes_and_unicode(store, base_store):
    shown = base_store.json("show", "unicode_list", "--json")
    assert as_dicts(store.options("unicode_list")) == shown["options"]
    assert any(o.label == "é 😀" for o in store.options("unicode_list"))
    assert store.options("unicode_list")[-1] == Option("t", 'x ,"options":[{"value":"y"}]}')
    with_default = [k for k in store.keys("nhs_dd")
                    if any(o.default for o in store.options(k))]
    assert with_default, "the NHS DD mirror has default codes (e.g. Not known)"


def test_aliases_resolve(store, base_store):
    aliased = [d for d in store.datasets() if d.aliases]
    assert aliased, "the catalogue has older keys"
    for d in aliased:
        for alias in d.aliases:
            assert store.dataset(alias).key == d.key
            assert store.options(alias) == store.options(d.key)
            assert store.options_json(alias).key == d.key
            assert store.versions(alias) == store.versions(d.key)
            assert store.version(alias, 1) == store.version(d.key, 1)
    assert store.dataset("accommodation_status_code").key == "accommodation_status"


@pytest.mark.parametrize("call", [
    lambda s, k: s.options(k), lambda s, k: s.dataset(k), lambda s, k: s.versions(k),
    lambda s, k: s.version(k, 1), lambda s, k: s.options_json(k)])
def test_missing_key_names_it_and_suggests(store, call):
    with pytest.raises(KeyNotFound) as e:
        call(store, "smoking_status_cod")
    assert e.value.key == "smoking_status_cod"
    assert e.value.suggestion == "smoking_status_code"
    assert str(e.value) == ("no dataset 'smoking_status_cod'; did you mean "
                            "'smoking_status_code'?")
    assert isinstance(e.value, LookupError)
    with pytest.raises(KeyNotFound) as e:
        call(store, "zzzzqqqq")
    assert e.value.suggestion is None
    assert "`datasnap list`" in str(e.value)
    for odd in ("", "x" * 600, "a\x00b"):
        with pytest.raises(KeyNotFound):
            call(store, odd)


def test_missing_version(store):
    with pytest.raises(VersionNotFound) as e:
        store.version("wards", 3)
    assert str(e.value) == "dataset 'wards' has no version 3 (versions 1 to 2)"
    assert isinstance(e.value, KeyNotFound)
    for bad in (0, -1, "1", True, 1.0):
        with pytest.raises(ValueError):
            store.version("wards", bad)


def test_deleted_dataset(store, base_store):
    assert "clinics" not in store.keys()
    assert "clinics" in [d.key for d in store.datasets(include_deleted=True)]
    d = store.dataset("clinics")
    assert d.is_active is False
    with pytest.raises(DatasetDeleted) as e:
        store.options("clinics")
    assert "deleted" in str(e.value) and isinstance(e.value, KeyNotFound)
    with pytest.raises(DatasetDeleted):
        store.options_json("clinics")
    assert [o.value for o in store.version("clinics", 1).options] == ["c1"]
    assert len(store.versions("clinics")) == 1


def test_keys_by_category_and_org(store, base_store):
    for category in ("nhs_dd", "rcpch", "user_created", "external_api"):
        expected = [d["key"] for d in base_store.json("list", "--category", category,
                                                      "--json")]
        assert store.keys(category) == expected
    for org in ("acme", "globex", "nobody"):
        expected = [d["key"] for d in base_store.json("list", "--org", org, "--json")]
        assert store.keys(org=org) == expected
    assert "wards" in store.keys(org="acme") and "wards" not in store.keys(org="globex")
    assert "beta_list" in store.keys(org="globex")
    assert store.keys("user_created", "acme") == ["smoking_status_code_acme",
                                                  "unicode_list", "wards"]
    with pytest.raises(ValueError, match="unknown category 'nhs'"):
        store.keys("nhs")


def test_org_scoping_of_reads(store):
    assert store.options("wards", org="acme") == store.options("wards")
    with pytest.raises(KeyNotFound, match="not visible to organisation 'globex'|visible"):
        store.options("wards", org="globex")
    with pytest.raises(KeyNotFound):
        store.dataset("wards", org="globex")
    custom = store.dataset("smoking_status_code_acme", org="acme")
    assert (custom.is_custom, custom.parent, custom.organization) == (
        True, "smoking_status_code", "acme")
    assert store.options(custom.key) == store.options("smoking_status_code")
    assert store.options("smoking_status_code", org="globex")  # global


def test_choices(store):
    assert flat_choices(store.options("smoking_status_code"))[0] == ("1", "Current smoker")
    assert grouped_choices(store.options("wards")) == [
        ("North wing", [("N", "North wing"), ("N1", "Ward N1"), ("N2", "Ward N2")]),
        ("South wing", [("S", "South wing"), ("S1", "Ward S1")])]
    assert grouped_choices(store.options("wards"), selectable_parents=False) == [
        ("North wing", [("N1", "Ward N1"), ("N2", "Ward N2")]),
        ("South wing", [("S1", "Ward S1")])]
    flat = store.options("smoking_status_code")
    assert grouped_choices(flat) == flat_choices(flat)
    deep = [Option("a", "A"), Option("b", "B", "a"), Option("c", "C", "b"), Option("d", "D")]
    assert grouped_choices(deep) == [("A", [("a", "A"), ("b", "B"), ("c", "C")]),
                                     ("d", "D")]


# ------------------------------------------------------------ bad stores

def rewrite(path, db, key, value):
    """Writes one record into a copy with python lmdb (as damage would)."""
    env = lmdb.open(path, subdir=False, max_dbs=16)
    with env.begin(write=True) as txn:
        handle = env.open_db(db, txn=txn, create=False)
        txn.put(key, value, db=handle)
    env.close()


def read_record(path, db, key):
    env = lmdb.open(path, subdir=False, readonly=True, max_dbs=16)
    with env.begin() as txn:
        value = txn.get(key, db=env.open_db(db, txn=txn, create=False))
    env.close()
    return value


def vkey(key, n):
    return key.encode() + b"\x00" + struct.pack(">I", n)


def damaged_versions(record, options):
    """(table, reason, bytes, whether versions() sees it too) for a good
    schema-2 version record and its options: versions() checks hashes and
    headers but decodes no options."""
    obj = json.loads(record)
    opts = json.loads(options)
    dump = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode()
    bad_option = [dict(opts[0], value=1)] + opts[1:]
    mismatch = "options do not match their recorded SHA-256"
    return [
        (b"options", mismatch, dump([dict(opts[0], label=opts[0]["label"] + "!")] + opts[1:]),
         True),
        (b"options", mismatch, options.replace(b'"label":"', b'"label":"X', 1), True),
        (b"options", mismatch, b"\xff\xfe", True),  # hashed before it is decoded
        (b"versions", "option_count is", dump(dict(obj, option_count=obj["option_count"] + 1)),
         False),
        (b"versions", "record says other@", dump(dict(obj, key="other")), True),
        (b"versions", "field 'options_sha256' is missing",
         dump({k: v for k, v in obj.items() if k != "options_sha256"}), True),
        (b"versions", "not valid UTF-8 JSON", record[:-7], True),
        (b"versions", "not valid UTF-8 JSON", b"\xff\xfe", True),
        (b"versions", "has an 'options' member", dump(dict(obj, options=opts)), True),
        (b"versions", "field 'provenance.etag'",
         dump(dict(obj, provenance=dict(obj["provenance"], etag=5))), True),
    ], (b"options", "options[0] is not", dump(bad_option), False), bad_option


def test_corrupt_version_records(store_copy):
    path = store_copy.store
    k = vkey("smoking_status_code", 1)
    good = {t: read_record(path, t, k) for t in (b"versions", b"options")}
    cases, option_case, bad_option = damaged_versions(good[b"versions"], good[b"options"])
    for table, reason, bad, in_summaries in cases + [option_case]:
        if table == b"options" and reason.startswith("options[0]"):
            # A well-formed array of a bad option: its hash matches, so
            # only the option check can catch it.
            sha = hashlib.sha256(bad).hexdigest()
            rewrite(path, b"versions", k,
                    json.dumps(dict(json.loads(good[b"versions"]), options_sha256=sha),
                               separators=(",", ":")).encode())
        rewrite(path, table, k, bad)
        with Store(path) as s:
            calls = [lambda: s.version("smoking_status_code", 1)]
            if in_summaries:
                calls.append(lambda: s.versions("smoking_status_code"))
            for call in calls:
                with pytest.raises(CorruptRecord) as e:
                    call()
                assert (e.value.db, e.value.key) == (table.decode(), "smoking_status_code@1")
                assert reason in e.value.reason, (reason, e.value.reason)
                assert (f"corrupt record in '{table.decode()}' at 'smoking_status_code@1'"
                        in str(e.value))
            assert s.options("welsh_lhbs")  # the rest still reads
        for t, v in good.items():  # each case on its own
            rewrite(path, t, k, v)
    with Store(path) as s:
        assert s.version("smoking_status_code", 1).options


def test_corrupt_current_options(store_copy):
    """The current version's record, options and `current` entry, damaged:
    options() and options_json() refuse them, naming the table."""
    path = store_copy.store
    key = "welsh_lhbs"
    with Store(path) as s:
        n = s.dataset(key).version
    k = vkey(key, n)
    opts = read_record(path, b"options", k)
    current = read_record(path, b"current", key.encode())
    cases = [
        (b"options", k, opts.replace(b'"label":"', b'"label":"X', 1), "options", f"{key}@{n}",
         "options do not match their recorded SHA-256"),
        (b"current", key.encode(), current[:4] + bytes(32), "current", key, "names version"),
        (b"current", key.encode(), struct.pack(">I", n + 1) + current[4:], "current", key,
         f"names version {n + 1}"),
        (b"current", key.encode(), current[:20], "current", key, "20 bytes, expected 36"),
    ]
    for table, record_key, bad, db, where, reason in cases:
        rewrite(path, table, record_key, bad)
        with Store(path) as s:
            for call in (s.options, s.options_json):
                with pytest.raises(CorruptRecord) as e:
                    call(key)
                assert (e.value.db, e.value.key) == (db, where)
                assert reason in e.value.reason, (reason, e.value.reason)
            assert s.options("smoking_status_code")
        rewrite(path, table, record_key, opts if table == b"options" else current)
    with Store(path) as s:
        assert s.options(key)


def test_schema1_store_reads_as_its_release_showed(schema1_copy):
    """A store the previous release wrote (schema 1, options inside the
    version records), read as it is: what that release's `show --json`
    said, version by version."""
    with open(SCHEMA1_EXPECTED, encoding="utf-8") as f:
        expected = json.load(f)
    with Store(schema1_copy) as s:
        assert s.schema_version == 1
        for key, said in expected.items():
            d = s.dataset(key)
            for field in DATASET_FIELDS:
                got = getattr(d, field)
                assert (list(got) if isinstance(got, tuple) else got) == said["show"][field], \
                    (key, field)
            assert [v.version for v in s.versions(key)] == [h["version"] for h in said["history"]]
            for n, shown in said["versions"].items():
                assert as_dicts(s.version(key, int(n)).options) == shown["options"], (key, n)
            if said["show"]["is_active"] and said["show"]["version"]:
                assert as_dicts(s.options(key)) == said["show"]["options"], key


def test_valid_schema1_record_in_another_layout_reads(schema1_copy):
    """Schema 1's fast path is only a shortcut: options first, whitespace,
    escaped non-ASCII: still a valid schema-1 record, still read (and
    checked)."""
    key = vkey("text_edge_cases", 1)
    obj = json.loads(read_record(schema1_copy, b"versions", key))
    reordered = {"options": obj["options"], **{k: v for k, v in obj.items()
                                               if k != "options"}}
    rewrite(schema1_copy, b"versions", key, json.dumps(reordered, indent=1).encode())
    with Store(schema1_copy) as s:
        assert as_dicts(s.options("text_edge_cases")) == obj["options"]
        assert s.options_json("text_edge_cases").json == canonical_options_json(obj["options"])
    damaged = dict(obj, options=[dict(obj["options"][0], label="tampered")] + obj["options"][1:])
    rewrite(schema1_copy, b"versions", key, json.dumps(damaged).encode())
    with Store(schema1_copy) as s:
        with pytest.raises(CorruptRecord, match="options do not match"):
            s.options("text_edge_cases")


def test_migrated_under_an_open_reader(schema1_copy, base_store):
    """datasnap (a writer) migrates a schema-1 store to schema 2 while a
    reader has it open: the reader's next call reads the new layout, with
    the same answers."""
    with Store(schema1_copy) as s:
        before = {d.key: s.options(d.key) for d in s.datasets() if d.version}
        assert s.schema_version == 1
        base_store.at(schema1_copy).run("import", "migration_probe", "--name", "Probe",
                                        "--file", write_probe(os.path.dirname(schema1_copy)))
        assert {k: s.options(k) for k in before} == before
        assert s.schema_version == 2
        assert [o.value for o in s.options("migration_probe")] == ["p"]


def write_probe(directory):
    path = os.path.join(directory, "probe.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"p": "Probe"}, f)
    return path


def test_corrupt_dataset_records(store_copy):
    path = store_copy.store
    good = json.loads(read_record(path, b"datasets", b"welsh_lhbs"))
    cases = [("field 'is_active' is", dict(good, is_active="yes")),
             ("field 'version' is", dict(good, version=True)),
             ("field 'name' is missing", {k: v for k, v in good.items() if k != "name"}),
             ("record says key 'x'", dict(good, key="x")),
             ("current version 9 is not in 'versions'", dict(good, version=9)),
             ("options_sha256 differs", dict(good, options_sha256="0" * 64))]
    for reason, record in cases:
        rewrite(path, b"datasets", b"welsh_lhbs", json.dumps(record).encode())
        with Store(path) as s:
            with pytest.raises(CorruptRecord) as e:
                s.options("welsh_lhbs")
            assert (e.value.db, e.value.key) == ("datasets", "welsh_lhbs")
            assert reason in e.value.reason, (reason, e.value.reason)


def test_newer_schema_is_refused(store_copy):
    rewrite(store_copy.store, b"meta", b"schema_version", b"3")
    with pytest.raises(SchemaTooNew) as e:
        Store(store_copy.store)
    assert (e.value.found, e.value.supported) == (3, (1, 2))
    assert "schema version 3, newer than this reader supports (1, 2)" in str(e.value)
    rewrite(store_copy.store, b"meta", b"schema_version", b"one")
    with pytest.raises(StoreError, match="unreadable schema_version"):
        Store(store_copy.store)


def test_schema_changed_under_an_open_reader(store_copy):
    """A store migrated to a newer schema while a reader has it open: the
    next read refuses it rather than decoding it with the old codec."""
    import subprocess
    import sys
    with Store(store_copy.store) as s:
        assert s.options("wards")
        # Another process writes (one LMDB environment per file per process).
        subprocess.run([sys.executable, "-c", f"""
import lmdb
env = lmdb.open({store_copy.store!r}, subdir=False, max_dbs=16)
with env.begin(write=True) as txn:
    txn.put(b"schema_version", b"3", db=env.open_db(b"meta", txn=txn, create=False))
"""], check=True)
        with pytest.raises(SchemaTooNew, match="schema version 3"):
            s.options("wards")


def test_not_a_store(tmp_path):
    with pytest.raises(StoreError, match="no store at"):
        Store(tmp_path / "missing.lmdb")
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(StoreError, match="is empty"):
        Store(tmp_path / "empty")
    (tmp_path / "text").write_bytes(b"hello" * 2000)
    with pytest.raises(StoreError, match="not an LMDB file|cannot open"):
        Store(tmp_path / "text")
    other = tmp_path / "other.lmdb"
    env = lmdb.open(str(other), subdir=False, max_dbs=4)
    env.open_db(b"something")
    env.close()
    with pytest.raises(StoreError, match="not a datasnap store"):
        Store(other)


def test_read_only_never_writes_the_data_file(store_copy):
    path = store_copy.store
    before = (os.stat(path).st_mtime_ns, open(path, "rb").read())
    os.chmod(path, 0o444)  # MDB_RDONLY opens the data file read-only
    with Store(path) as s:
        for k in s.keys():
            s.dataset(k)
    assert (os.stat(path).st_mtime_ns, open(path, "rb").read()) == before


def test_closed_and_forked(store_copy):
    s = Store(store_copy.store)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.options("wards")
    s = Store(store_copy.store)
    with pytest.raises(StoreError, match="already open in this process"):
        Store(store_copy.store)
    wards = s.options("wards")
    pid = os.fork()
    if pid == 0:
        try:
            s.options("wards")
            os._exit(1)
        except StoreError as e:
            if "do not survive fork" not in str(e):
                os._exit(2)
        except BaseException:
            os._exit(3)
        try:  # the child opens its own
            with Store(store_copy.store) as own:
                os._exit(0 if own.options("wards") == wards else 4)
        except BaseException:
            os._exit(5)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s.options("wards")
    s.close()


def test_store_md_example(store_copy):
    """docs/STORE.md's short example of this package runs as written."""
    doc = os.path.join(os.path.dirname(__file__), "../../docs/STORE.md")
    with open(doc, encoding="utf-8") as f:
        blocks = re.findall(r"```py\n(.*?)```", f.read(), re.S)
    assert len(blocks) == 1
    code = blocks[0].replace('"datasnap.lmdb"', repr(store_copy.store))
    namespace = {}
    exec(code, namespace)
    store = namespace["store"]
    assert store.options("smoking_status_code")[0] == ("1", "Current smoker", None, False)
    store.close()


def test_records_datasnap_wrote_take_the_fast_path(store_copy, monkeypatch):
    """Every version datasnap wrote is read without re-encoding its options
    (the slow path, re-encoding, is for other valid layouts), labels that
    look like the `"options":` member included."""
    import datasnap_store.records as records

    def refuse(options):
        raise AssertionError("the slow path ran")
    monkeypatch.setattr(records, "canonical_options_json", refuse)
    with Store(store_copy.store) as s:
        assert len(s.datasets(include_deleted=True)) > 55
        for d in s.datasets(include_deleted=True):
            for v in s.versions(d.key):
                assert s.version(d.key, v.version).options_json
