"""Checks a whole `datasnap export` tree against docs/FORMATS.md and the JSON
Schemas of docs/schemas/, with Debian's tools only: the zstd and gzip
command-line programs, python3-jsonschema, and python3-django for the
CheckTick fixture.

Usage: export_validation_test.py DATASNAP MAKE_EXPORT_STORE FORMATS_MD
           MANIFEST_SCHEMA   (the other schemas sit beside it)

What it checks:
  - every file the manifest and each organisation's orgs/<org>/manifest.json
    list exists with the listed bytes and SHA-256;
    every .zst decompresses with `zstd -d` (also with an 8 MiB memory cap)
    and every .gz with `gzip -d` to the same JSON, whose SHA-256 and length
    the manifest gives and whose first 12 hex digits the file name carries;
    zstd frames have a checksum, a content size and a window of at most
    8 MiB; gzip members have no name and no time;
  - every document (manifest, organisation manifests, snapshots, diffs,
    FHIR ValueSets, the CheckTick fixture, FORMATS.md's examples) validates
    against its schema, and the schemas reject documents they should;
  - organisation scope: the public manifest lists the global datasets only;
    orgs/<org>/manifest.json lists that organisation's own datasets (custom
    versions with their `parent`), with every file under orgs/<org>/, and
    refers (`global`) to exactly the public manifest's datasets; no
    organisation's dataset or name is in the public files or another
    organisation's; a dataset neither global nor an organisation's, and a
    deleted one, is in no file at all;
  - every JSON document is compact UTF-8 (Python re-encodes it to the same
    bytes) and agrees with the others: hashes, counts, versions, keys;
  - each diff's RFC 6902 patch, applied to its `from` snapshot's options
    keyed by value, gives the `to` snapshot's; added/removed/changed,
    summary and `order` match the two snapshots (the patch is applied by
    the test's own applier and by Debian's python3-jsonpatch); FORMATS.md's own
    apply_diff turns `from` into `to`; `datasnap diff K A B --format json`
    (and `patch`) print the published diff (and its patch);
  - nothing else is in the tree (consecutive diffs aside), and no
    temporary files are left;
  - exporting again into the same directory changes no file (bytes, mtime,
    inode), and exporting into a fresh one gives a byte-identical tree;
  - the CheckTick fixture is checked field by field against docs/CHECKTICK.md and the store, and (with python3-django) loads
    (`loaddata`, twice) into a throwaway Django project whose
    surveys.DataSet has the fields docs/CHECKTICK.md lists, passes full_clean(), reads back
    with the same options in the same order, and dumps (Django's own
    serializer) to exactly the fixture.
"""
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

import jsonpatch
import jsonschema

SCHEMA_NAMES = ("manifest", "org-manifest", "snapshot", "diff",
                "fhir-valueset", "checktick-fixture")
HEX12 = re.compile(r"\.([0-9a-f]{12})\.json(\.zst|\.gz)?$")

# What make_export_store writes, and what the export must publish: global
# datasets in the public manifest (referral_reasons_12 is an organisation's
# list made global), each organisation's own under orgs/<org>/ and in its
# manifest only, and the rest nowhere.
PUBLISHED = ["2024_" + "x" * 70 + "_list", "awkward-codes", "ethnic_category",
             "ethnic_category_rcpch", "referral_reasons_12",
             "smoking_status_code", "welsh_lhbs"]
ORG_DATASETS = {"org-12": ["clinic_rooms_12", "ethnic_category_org_12"],
                "org-7": ["smoking_status_code_custom_7"]}
# The organisations' custom versions, and the global datasets they customise.
ORG_PARENTS = {"ethnic_category_org_12": "ethnic_category",
               "smoking_status_code_custom_7": "smoking_status_code"}
# Neither global nor an organisation's; soft-deleted; never fetched.
UNPUBLISHED = ["unscoped_draft_list", "wards_12_deleted", "retired_list",
               "never_fetched"]
IN_FIXTURE = sorted(PUBLISHED + [k for keys in ORG_DATASETS.values()
                                 for k in keys] + ["unscoped_draft_list"])
ODS_KEYS = {"hospitals_england_wales", "nhs_trusts", "welsh_lhbs",
            "integrated_care_boards"}
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
FHIR_BASE = "https://datasnap.rcpch.ac.uk/fhir"


class Checker:
    def __init__(self):
        self.failures = []
        self.checks = 0

    def __call__(self, condition, what):
        self.checks += 1
        if not condition:
            self.failures.append(what)
        return condition


check = Checker()


# The export's record of what it wrote (exporters/export_record.h).
RECORD = ".datasnap-export.json"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def run(*args, **kwargs):
    return subprocess.run(list(args), check=True, capture_output=True, **kwargs)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate member in {keys}")
    return dict(pairs)


def parse_json(data, what):
    """Parses strict UTF-8 JSON without duplicate members, and checks it is
    in the compact form we publish (Python re-encodes it to the same
    bytes)."""
    text = data.decode("utf-8")  # raises on invalid UTF-8
    doc = json.loads(text, object_pairs_hook=no_duplicates)
    compact = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    check(compact.encode("utf-8") == data,
          f"{what}: not compact UTF-8 JSON in our encoding")
    return doc


def canonical_options(options):
    return json.dumps(options, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def keyed(options):
    """The options keyed by value: the document a diff's patch applies to."""
    out = {}
    for o in options:
        body = {"label": o["label"]}
        if "parent" in o:
            body["parent"] = o["parent"]
        if o.get("default"):
            body["default"] = True
        out[o["value"]] = body
    return out


# --- RFC 6901 / RFC 6902 ---------------------------------------------------

def pointer_tokens(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"not a JSON Pointer: {path!r}")
    tokens = []
    for raw in path[1:].split("/"):
        if re.search(r"~(?![01])", raw):
            raise ValueError(f"bad escape in {path!r}")
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def apply_patch(doc, patch):
    """RFC 6902 add / remove / replace on objects (what our patches use)."""
    doc = json.loads(json.dumps(doc))  # a deep copy
    for i, op in enumerate(patch):
        tokens = pointer_tokens(op["path"])
        if not tokens:
            raise ValueError(f"operation {i}: whole-document operation")
        parent = doc
        for t in tokens[:-1]:
            parent = parent[t]  # KeyError: path through a missing member
        if not isinstance(parent, dict):
            raise ValueError(f"operation {i}: {op['path']} is not in an object")
        last = tokens[-1]
        if op["op"] == "add":
            parent[last] = op["value"]
        elif op["op"] == "remove":
            del parent[last]  # KeyError when missing, as RFC 6902 §4.2 wants
        elif op["op"] == "replace":
            if last not in parent:
                raise KeyError(f"operation {i}: replace of missing {op['path']}")
            parent[last] = op["value"]
        else:
            raise ValueError(f"operation {i}: unexpected op {op['op']!r}")
    return doc


def escape_token(text):
    return text.replace("~", "~0").replace("/", "~1")


# --- encodings -------------------------------------------------------------

def zstd_header(frame, what):
    """Checks the zstd frame header (RFC 8878 §3.1.1.1): content checksum,
    content size, no dictionary, window <= 8 MiB."""
    if not check(frame[:4] == b"\x28\xb5\x2f\xfd", f"{what}: no zstd magic"):
        return
    fhd = frame[4]
    fcs_flag, single_segment = fhd >> 6, (fhd >> 5) & 1
    checksum, dict_flag = (fhd >> 2) & 1, fhd & 3
    check(checksum == 1, f"{what}: zstd frame without a content checksum")
    check(dict_flag == 0, f"{what}: zstd frame names a dictionary")
    pos = 5
    if single_segment:
        window = None  # the window is the content size
    else:
        wd = frame[pos]
        pos += 1
        exponent, mantissa = wd >> 3, wd & 7
        base = 1 << (10 + exponent)
        window = base + (base // 8) * mantissa
    fcs_bytes = {0: 1 if single_segment else 0, 1: 2, 2: 4, 3: 8}[fcs_flag]
    check(fcs_bytes > 0, f"{what}: zstd frame without a content size")
    size = int.from_bytes(frame[pos:pos + fcs_bytes], "little")
    if fcs_bytes == 2:
        size += 256
    if window is None:
        window = size
    check(window <= 8 << 20, f"{what}: zstd window {window} > 8 MiB")
    return size


def gzip_header(member, what):
    check(member[:3] == b"\x1f\x8b\x08", f"{what}: not a gzip member")
    flags = member[3]
    check(flags & 0x08 == 0, f"{what}: gzip member carries a file name")
    check(flags & 0x10 == 0, f"{what}: gzip member carries a comment")
    check(member[4:8] == b"\0\0\0\0", f"{what}: gzip member carries a time")


def decompress(path, encoding):
    """The file decoded by the zstd or gzip program; None (and a failure)
    when it does not decode."""
    commands = {"zstd": [["zstd", "-d", "-c", "-q", path],
                         # as a client limited to RFC 9659's window would
                         ["zstd", "-d", "-c", "-q", "--memory=8MB", path]],
                "gzip": [["gzip", "-d", "-c", path]]}[encoding]
    outputs = []
    for command in commands:
        proc = subprocess.run(command, capture_output=True)
        if not check(proc.returncode == 0,
                     f"{' '.join(command)} failed: "
                     f"{proc.stderr.decode(errors='replace').strip()}"):
            return None
        outputs.append(proc.stdout)
    check(all(o == outputs[0] for o in outputs),
          f"{path}: decodes differently under an 8 MiB window cap")
    return outputs[0]


# --- the tree --------------------------------------------------------------

class Tree:
    """One export directory, as read and checked."""

    def __init__(self, root, schemas):
        self.root = root
        self.schemas = schemas
        self.listed = set()       # paths the manifest lists
        self.snapshots = {}       # (key, version) -> snapshot document
        self.diffs = {}           # (key, from, to) -> diff document
        self.documents = 0        # JSON documents validated
        self.files = 0            # published files checked
        self.bytes = 0            # their bytes
        self.json_bytes = 0       # uncompressed JSON bytes of documents
        self.org_manifests = 0    # orgs/<org>/manifest.json checked
        self.owner = {}           # an organisation's dataset -> organisation

    def validate(self, name, doc, what):
        errors = sorted(self.schemas[name].iter_errors(doc), key=str)
        for e in errors[:5]:
            check(False, f"{what}: {name} schema: {e.message} at "
                         f"{'/'.join(map(str, e.absolute_path))}")
        self.documents += 1
        return not errors

    def read_file(self, entry, what):
        """Checks a manifest file entry against the file; returns its bytes."""
        path = os.path.join(self.root, entry["path"])
        self.listed.add(entry["path"])
        if not check(os.path.isfile(path), f"{what}: {entry['path']} is missing"):
            return None
        with open(path, "rb") as f:
            data = f.read()
        check(len(data) == entry["bytes"],
              f"{what}: {entry['path']} has {len(data)} bytes, manifest says "
              f"{entry['bytes']}")
        check(sha256(data) == entry["sha256"],
              f"{what}: {entry['path']} SHA-256 differs from the manifest's")
        self.files += 1
        self.bytes += len(data)
        return data

    def read_document(self, doc, schema, what):
        """A published document: zstd and gzip files, both decoding to the
        JSON whose SHA-256 and length the manifest gives. Returns it parsed."""
        check(len(doc["files"]) == 2, f"{what}: expected a .zst and a .gz")
        decoded = []
        for entry in doc["files"]:
            data = self.read_file(entry, what)
            if data is None:
                continue
            m = HEX12.search(entry["path"])
            check(m and m.group(1) == doc["json_sha256"][:12],
                  f"{what}: {entry['path']} is not named by its JSON's hash")
            full = os.path.join(self.root, entry["path"])
            if entry["encoding"] == "zstd":
                check(entry["path"].endswith(".json.zst"), f"{what}: zstd name")
                size = zstd_header(data, entry["path"])
                check(size == doc["json_bytes"],
                      f"{what}: zstd content size {size} != json_bytes")
            else:
                check(entry["path"].endswith(".json.gz"), f"{what}: gzip name")
                gzip_header(data, entry["path"])
            plain = decompress(full, entry["encoding"])
            if plain is None:
                continue
            check(sha256(plain) == doc["json_sha256"],
                  f"{what}: {entry['path']} decodes to other JSON than "
                  f"json_sha256 names")
            check(len(plain) == doc["json_bytes"],
                  f"{what}: {entry['path']} decodes to {len(plain)} bytes, "
                  f"json_bytes is {doc['json_bytes']}")
            decoded.append(plain)
        if not decoded:
            return None
        check(all(d == decoded[0] for d in decoded),
              f"{what}: .zst and .gz decode to different bytes")
        self.json_bytes += len(decoded[0])
        parsed = parse_json(decoded[0], what)
        self.validate(schema, parsed, what)
        return parsed


def check_snapshot(snap, key, version, what):
    check(snap["key"] == key, f"{what}: key {snap['key']!r}")
    check(snap["version"] == version, f"{what}: version {snap['version']}")
    options = snap["options"]
    check(snap["option_count"] == len(options), f"{what}: option_count")
    check(snap["sha256"] == sha256(canonical_options(options)),
          f"{what}: sha256 is not that of the canonical options")
    values = [o["value"] for o in options]
    check(len(values) == len(set(values)), f"{what}: repeated values")
    for o in options:
        if "parent" in o:
            check(o["parent"] in values and o["parent"] != o["value"],
                  f"{what}: option {o['value']!r} has parent {o['parent']!r}")


def check_diff(diff, before, after, what):
    """A diff document against its two snapshots."""
    check(diff["from_sha256"] == before["sha256"], f"{what}: from_sha256")
    check(diff["to_sha256"] == after["sha256"], f"{what}: to_sha256")
    b, a = keyed(before["options"]), keyed(after["options"])
    b_order = [o["value"] for o in before["options"]]
    a_order = [o["value"] for o in after["options"]]
    added = [o for o in after["options"] if o["value"] not in b]
    removed = [o for o in before["options"] if o["value"] not in a]
    changed = [{"value": v, "before": b[v], "after": a[v]}
               for v in a_order if v in b and b[v] != a[v]]
    common_b = [v for v in b_order if v in a]
    common_a = [v for v in a_order if v in b]
    reordered = common_b != common_a
    check(diff["added"] == added, f"{what}: added {diff['added']} != {added}")
    check(diff["removed"] == removed, f"{what}: removed")
    check(diff["changed"] == changed, f"{what}: changed")
    check(diff["summary"] == {"added": len(added), "removed": len(removed),
                              "changed": len(changed), "reordered": reordered},
          f"{what}: summary {diff['summary']}")
    if added or reordered:
        check(diff.get("order") == a_order, f"{what}: order missing or wrong")
    else:
        check("order" not in diff, f"{what}: order present needlessly")
        check([v for v in b_order if v in a] == a_order,
              f"{what}: `to`'s order cannot be derived from `from`'s")
    # The patch: applied to `from` keyed by value, it gives `to`.
    try:
        patched = apply_patch(b, diff["patch"])
        check(patched == a, f"{what}: patch gives {patched}, not {a}")
    except (KeyError, ValueError, TypeError) as e:
        check(False, f"{what}: patch does not apply: {e!r}")
    # And with an independent applier, as a client would (python3-jsonpatch).
    try:
        patched = jsonpatch.apply_patch(b, diff["patch"])
        check(patched == a, f"{what}: jsonpatch gives {patched}, not {a}")
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
        check(False, f"{what}: jsonpatch cannot apply the patch: {e!r}")
    # Paths escape '~' and '/' (RFC 6901).
    for op in diff["patch"]:
        token = op["path"].split("/")[1]
        check(escape_token(pointer_tokens("/" + token)[0]) == token,
              f"{what}: path {op['path']!r} is not escaped canonically")
    if not (added or removed or changed):
        check(diff["patch"] == [], f"{what}: patch of a reorder is not []")


def check_fhir(vs, entry, snap, what):
    key = entry["key"]
    check(vs["version"] == str(entry["version"]), f"{what}: version")
    check(re.fullmatch(r"[A-Za-z0-9.-]{1,64}", vs["id"]) is not None,
          f"{what}: id {vs['id']!r}")
    if len(key) <= 64:
        check(vs["id"] == re.sub(r"[^A-Za-z0-9.]", "-", key), f"{what}: id")
    check(vs["url"] == f"{FHIR_BASE}/ValueSet/{vs['id']}", f"{what}: url")
    check(vs["expansion"]["identifier"] == f"{vs['url']}|{vs['version']}",
          f"{what}: expansion.identifier")
    check(vs["expansion"]["timestamp"] == snap["created_at"],
          f"{what}: expansion.timestamp")
    check(vs["date"] == snap["created_at"][:10], f"{what}: date")
    check(vs.get("title") == (entry["name"] or None), f"{what}: title")
    check(vs.get("description") == (entry["description"] or None),
          f"{what}: description")
    check(vs.get("meta", {}).get("source") == entry["source_url"],
          f"{what}: meta.source")
    contains = vs["expansion"].get("contains", [])
    check(vs["expansion"]["total"] == len(contains) == len(snap["options"]),
          f"{what}: total")
    system = ODS_SYSTEM if key in ODS_KEYS else \
        f"{FHIR_BASE}/CodeSystem/{vs['id']}"
    check([(c["system"], c["code"], c["display"]) for c in contains] ==
          [(system, o["value"], o["label"]) for o in snap["options"]],
          f"{what}: contains differs from the snapshot's options")


def check_entry(tree, entry, prefix, what):
    """One dataset of a manifest (public: prefix "", an organisation's:
    prefix "orgs/<org>/"): its snapshots, diffs and FHIR file, which must
    all lie under `prefix`. Returns the paths of the files it lists."""
    key, current = entry["key"], entry["version"]
    paths = []
    snap = tree.read_document(entry["snapshot"], "snapshot",
                              f"{prefix}{key} snapshot {current}")
    for f in entry["snapshot"]["files"]:
        paths.append(f["path"])
        check(f["path"].startswith(f"{prefix}datasets/{key}/{current}."),
              f"{what}: snapshot path {f['path']}")
    check(entry["sha256"] == entry["snapshot"]["json_sha256"],
          f"{what}: sha256 != snapshot.json_sha256")
    if snap is not None:
        check_snapshot(snap, key, current, f"{key} snapshot {current}")
        tree.snapshots[(key, current)] = snap
        for field in ("name", "option_count", "created_at"):
            check(entry[field] == snap[field], f"{what}: {field}")
        check(entry["options_sha256"] == snap["sha256"],
              f"{what}: options_sha256")
        check(entry["source_url"] == snap["provenance"]["source_url"],
              f"{what}: source_url")

    older = entry.get("older_snapshots", [])
    check([o["version"] for o in older] == list(range(1, current)),
          f"{what}: older_snapshots {[o['version'] for o in older]} "
          f"(--all-versions: every older version, oldest first)")
    for o in older:
        v = o["version"]
        s = tree.read_document(o, "snapshot", f"{prefix}{key} snapshot {v}")
        for f in o["files"]:
            paths.append(f["path"])
            check(f["path"].startswith(f"{prefix}datasets/{key}/{v}."),
                  f"{what}: older snapshot path {f['path']}")
        if s is not None:
            check_snapshot(s, key, v, f"{key} snapshot {v}")
            tree.snapshots[(key, v)] = s

    check([(d["from"], d["to"]) for d in entry["diffs"]] ==
          [(v, current) for v in range(1, current)],
          f"{what}: diffs should go from each older version to {current}")
    for d in entry["diffs"]:
        w = f"{prefix}{key} diff {d['from']}-{d['to']}"
        doc = tree.read_document(d, "diff", w)
        for f in d["files"]:
            paths.append(f["path"])
            check(f["path"].startswith(
                      f"{prefix}diffs/{key}/{d['from']}-{d['to']}."),
                  f"{w}: path {f['path']}")
        if doc is not None:
            check((doc["key"], doc["from"], doc["to"]) ==
                  (key, d["from"], d["to"]), f"{w}: key/from/to")
            check(doc["summary"] == d["summary"],
                  f"{w}: the manifest's summary differs from the diff's")
            tree.diffs[(key, d["from"], d["to"])] = doc

    check("fhir" in entry, f"{what}: no fhir file (--fhir)")
    if "fhir" in entry:
        f = entry["fhir"]
        paths.append(f["path"])
        data = tree.read_file(f, what)
        check(f["path"].startswith(f"{prefix}fhir/{key}/{current}."),
              f"{what}: fhir path {f['path']}")
        m = HEX12.search(f["path"])
        check(m and m.group(1) == f["sha256"][:12],
              f"{what}: {f['path']} is not named by its hash")
        if data is not None:
            tree.json_bytes += len(data)
            vs = parse_json(data, f["path"])
            if tree.validate("fhir-valueset", vs, f["path"]) and snap:
                check_fhir(vs, entry, snap, f["path"])
    return paths


def read_manifest(tree, rel, schema):
    """A manifest and its .gz: compact JSON, valid, the .gz decoding to the
    same bytes. Returns (parsed, bytes)."""
    with open(os.path.join(tree.root, rel), "rb") as f:
        data = f.read()
    doc = parse_json(data, rel)
    tree.validate(schema, doc, rel)
    tree.listed.update({rel, rel + ".gz"})
    gz = os.path.join(tree.root, rel + ".gz")
    if check(os.path.isfile(gz), f"{rel}.gz is missing"):
        with open(gz, "rb") as f:
            gzip_header(f.read(), rel + ".gz")
        check(decompress(gz, "gzip") == data,
              f"{rel}.gz does not decode to {rel}")
    return doc, data


def plain_bytes(path):
    """A file's JSON: .gz decoded with Python's gzip (the gzip and zstd
    programs are checked on every file elsewhere), .zst with the zstd
    program, anything else as it is."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        proc = subprocess.run(["zstd", "-d", "-c", "-q", path],
                              capture_output=True)
        return proc.stdout if proc.returncode == 0 else data
    return data


def check_scopes(tree, manifest, org_manifests, present):
    """Organisation scope: an organisation's datasets are in its manifest
    and under orgs/<org>/ only; its manifest refers to every global
    dataset as the public manifest lists it; datasets of no scope are
    nowhere."""
    public_keys = [d["key"] for d in manifest["datasets"]]
    expected_global = [{"key": d["key"], "version": d["version"],
                        "sha256": d["sha256"], "manifest": "manifest.json"}
                       for d in manifest["datasets"]]
    owner = {}  # key -> organisation
    for org, (doc, _) in sorted(org_manifests.items()):
        check(doc["global"] == expected_global,
              f"orgs/{org}/manifest.json: global is not the public "
              f"manifest's datasets: has "
              f"{[g for g in doc['global'] if g not in expected_global]}, "
              f"lacks {[g for g in expected_global if g not in doc['global']]}"
              + ("" if len(doc["global"]) != len(expected_global) or
                 sorted(map(str, doc["global"])) !=
                 sorted(map(str, expected_global)) else " (order differs)"))
        for d in doc["datasets"]:
            check(d["key"] not in public_keys,
                  f"{org}'s dataset {d['key']} is in the public manifest")
            check(d["key"] not in owner,
                  f"{d['key']} is in the manifests of {owner.get(d['key'])} "
                  f"and {org}")
            owner[d["key"]] = org
            parent = ORG_PARENTS.get(d["key"])
            check(d["parent"] == parent,
                  f"orgs/{org} {d['key']}: parent {d['parent']!r}, expected "
                  f"{parent!r}")
            if d["parent"] is not None:
                check(d["parent"] in public_keys,
                      f"orgs/{org} {d['key']}: parent {d['parent']} is not a "
                      f"global dataset")
    for d in manifest["datasets"]:
        check(d["parent"] not in owner,
              f"public {d['key']}: parent is an organisation's dataset")

    # Every file lies in its dataset's scope: public files name a public
    # key, files under orgs/<org>/ one of that organisation's keys.
    layout = re.compile(r"(?:orgs/([^/]+)/)?(?:(datasets|diffs|fhir)/([^/]+)/"
                        r"[^/]+|manifest\.json(?:\.gz)?)")
    for rel in sorted(present):
        m = layout.fullmatch(rel)
        if not check(m is not None, f"{rel}: not a path of the tree"):
            continue
        org, key = m.group(1), m.group(3)
        if org is not None:
            check(org in org_manifests,
                  f"{rel}: under orgs/{org}/, which has no manifest")
        if key is None:
            continue
        if org is None:
            check(key in public_keys,
                  f"{rel}: public file of {key}, not in the public manifest"
                  + (f" (organisation {owner[key]}'s)" if key in owner else ""))
        else:
            check(owner.get(key) == org,
                  f"{rel}: under orgs/{org}/, but {key} is "
                  + (f"{owner[key]}'s" if key in owner else
                     "public" if key in public_keys else "in no manifest"))

    # No file mentions a dataset or an organisation outside its scope (the
    # JSON of every file, decoded, searched for the key and the name).
    texts = {rel: plain_bytes(os.path.join(tree.root, rel)) for rel in present}
    private = {k: f"orgs/{o}/" for k, o in owner.items()}
    private.update({o: f"orgs/{o}/" for o in org_manifests})
    for name, scope in sorted(private.items()):
        leaks = [rel for rel, text in sorted(texts.items())
                 if not rel.startswith(scope) and name.encode() in text]
        check(not leaks, f"{name} (of {scope}) is named outside {scope}: "
                         f"{leaks[:5]}")
    for key in UNPUBLISHED:
        leaks = [rel for rel, text in sorted(texts.items())
                 if key in rel or key.encode() in text]
        check(not leaks, f"unpublished {key} is in the export: {leaks[:5]}")
    return owner


def check_tree(root, schemas):
    """Everything about one export directory; returns the Tree."""
    tree = Tree(root, schemas)
    manifest, _ = read_manifest(tree, "manifest.json", "manifest")
    keys = [d["key"] for d in manifest["datasets"]]
    check(keys == PUBLISHED, f"manifest datasets {keys}, expected {PUBLISHED}")
    for entry in manifest["datasets"]:
        for path in check_entry(tree, entry, "", f"manifest {entry['key']}"):
            check(not path.startswith("orgs/"),
                  f"manifest {entry['key']}: {path} is an organisation's")

    # orgs/<org>/manifest.json: one per organisation with datasets of its own.
    orgs_dir = os.path.join(root, "orgs")
    orgs = sorted(os.listdir(orgs_dir)) if os.path.isdir(orgs_dir) else []
    check(orgs == sorted(ORG_DATASETS),
          f"orgs/ holds {orgs}, expected {sorted(ORG_DATASETS)}")
    org_manifests = {}
    for org in orgs:
        rel = f"orgs/{org}/manifest.json"
        if not check(os.path.isfile(os.path.join(root, rel)),
                     f"{rel} is missing"):
            continue
        doc, data = read_manifest(tree, rel, "org-manifest")
        org_manifests[org] = (doc, data)
        tree.org_manifests += 1
        check(doc["organization"] == org,
              f"{rel}: organization {doc['organization']!r}")
        own = [d["key"] for d in doc["datasets"]]
        check(own == ORG_DATASETS.get(org),
              f"{rel}: datasets {own}, expected {ORG_DATASETS.get(org)}")
        for entry in doc["datasets"]:
            check_entry(tree, entry, f"orgs/{org}/",
                        f"{rel} {entry['key']}")

    # Everything else in the tree: consecutive diffs only, and no leftovers.
    present = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            present.add(os.path.relpath(os.path.join(dirpath, name), root))
    # The export's note to its next run (not published: upload skips it,
    # deploy/nginx/datasnap.conf refuses it): it names every manifest's bytes.
    if check(RECORD in present, f"no {RECORD} in the export"):
        present.discard(RECORD)
        with open(os.path.join(root, RECORD), "rb") as fh:
            record = json.loads(fh.read())
        manifests = {"manifest.json", "manifest.json.gz"} | {
            f"orgs/{org}/manifest.json{gz}" for org in orgs for gz in ("", ".gz")}
        if check(isinstance(record, dict) and isinstance(record.get("manifests"), dict),
                 f"{RECORD}: no manifests"):
            check(set(record["manifests"]) == manifests,
                  f"{RECORD}: manifests {sorted(record['manifests'])}")
            for rel, digest in sorted(record["manifests"].items()):
                if rel in manifests:
                    with open(os.path.join(root, rel), "rb") as fh:
                        check(digest == sha256(fh.read()),
                              f"{RECORD}: {rel} is not the recorded bytes")
    for rel in sorted(present - tree.listed):
        m = re.fullmatch(r"((?:orgs/[a-z0-9][a-z0-9_-]*/)?)diffs/"
                         r"([a-z0-9][a-z0-9_-]*)/([0-9]+)-([0-9]+)"
                         r"\.([0-9a-f]{12})\.json\.zst", rel)
        if not m:
            continue
        prefix, key = m.group(1), m.group(2)
        a, b = int(m.group(3)), int(m.group(4))
        check(b == a + 1, f"{rel}: unlisted diff is not between neighbours")
        files = []
        for enc, path in (("zstd", rel), ("gzip", rel[:-4] + ".gz")):
            if not check(path in present, f"{rel}: no {path}"):
                continue
            with open(os.path.join(root, path), "rb") as fh:
                data = fh.read()
            files.append({"path": path, "encoding": enc, "bytes": len(data),
                          "sha256": sha256(data)})
        plain = decompress(os.path.join(root, rel), "zstd")
        if plain is None:
            continue
        doc = tree.read_document({"json_sha256": sha256(plain),
                                  "json_bytes": len(plain), "files": files},
                                 "diff", f"{prefix}{key} diff {a}-{b}")
        if doc is not None:
            check((doc["key"], doc["from"], doc["to"]) == (key, a, b),
                  f"{rel}: key/from/to")
            tree.diffs[(key, a, b)] = doc
    for rel in sorted(present - tree.listed):
        check(False, f"unexpected file in the export: {rel}"
                     + (" (a temporary file left behind)"
                        if os.path.basename(rel).startswith(".") else ""))

    tree.owner = check_scopes(tree, manifest, org_manifests, present)

    # Every diff against its snapshots, patch applied.
    for (key, a, b), doc in sorted(tree.diffs.items()):
        before, after = tree.snapshots.get((key, a)), tree.snapshots.get((key, b))
        if check(before is not None and after is not None,
                 f"{key} diff {a}-{b}: snapshots missing"):
            check_diff(doc, before, after, f"{key} diff {a}-{b}")
    # Consecutive diffs exist for every pair of neighbours.
    entries = list(manifest["datasets"])
    for doc, _ in org_manifests.values():
        entries += doc["datasets"]
    for entry in entries:
        for v in range(1, entry["version"]):
            check((entry["key"], v, v + 1) in tree.diffs,
                  f"{entry['key']}: no diff {v}-{v + 1}")
    return tree


# --- the CheckTick fixture -------------------------------------------------

def indent_options(options):
    by_value = {o["value"]: o for o in options}
    out = {}
    for o in options:
        depth, at = 0, o
        while "parent" in at and depth < len(options):
            at = by_value[at["parent"]]
            depth += 1
        out[o["value"]] = "  " * depth + o["label"]
    return out


def check_fixture(fixture, tree):
    """Field by field against docs/CHECKTICK.md and the store."""
    what = "checktick fixture"
    tree.validate("checktick-fixture", fixture, what)
    keys = [row["fields"]["key"] for row in fixture]
    check(keys == IN_FIXTURE, f"{what}: keys {keys}, expected {IN_FIXTURE}")
    check([row["pk"] for row in fixture] == list(range(1, len(fixture) + 1)),
          f"{what}: pks are not 1..n")
    pk = {row["fields"]["key"]: row["pk"] for row in fixture}
    fields = {row["fields"]["key"]: row["fields"] for row in fixture}
    for key, f in fields.items():
        snaps = [s for (k, v), s in tree.snapshots.items() if k == key]
        if snaps:
            current = max(snaps, key=lambda s: s["version"])
            check(f["version"] == current["version"], f"{what} {key}: version")
            check(f["options"] == indent_options(current["options"]) and
                  list(f["options"]) == [o["value"] for o in current["options"]],
                  f"{what} {key}: options are not the current version's, "
                  f"indented by depth, in order")
        check(len(f["name"]) <= 255, f"{what} {key}: name over 255 characters")
    # Specific rows of make_export_store.
    big = fields[PUBLISHED[0]]
    check(big["name"] == "Ä" * 255, f"{what}: long name not cut to 255")
    check(big["reference_url"] == "" and big["external_api_url"] == "",
          f"{what}: URLs over 200 characters not dropped")
    check(big["external_api_endpoint"] == "/very/long/endpoint",
          f"{what}: external_api_endpoint")
    lhbs = fields["welsh_lhbs"]
    check(lhbs["external_api_url"] == "https://api.rcpch.ac.uk/"
          "nhs-organisations/v1/local_health_boards/extended/",
          f"{what}: external_api_url of an api source")
    check(lhbs["options"]["7A2AJ"] == "  Ysbyty Glangwili",
          f"{what}: child not indented")
    smoking = fields["smoking_status_code"]
    check(smoking["external_api_url"] == "", f"{what}: scrape with api url")
    check(smoking["reference_url"].startswith("https://www.datadictionary"),
          f"{what}: reference_url")
    check(smoking["last_scraped"] is not None and
          smoking["last_synced_at"] is not None, f"{what}: sync times")
    check(smoking["tags"] == ["clinic", "medical", "NHS"] and
          smoking["sync_frequency_hours"] == 168 and
          smoking["category"] == "nhs_dd" and smoking["source_type"] == "scrape"
          and smoking["is_global"] and not smoking["is_custom"],
          f"{what}: smoking_status_code's fields")
    check(fields["ethnic_category_rcpch"]["parent"] == pk["ethnic_category"],
          f"{what}: global customisation's parent pk")
    private = fields["smoking_status_code_custom_7"]
    check(private["parent"] == pk["smoking_status_code"] and
          private["is_global"] is False and private["organization"] is None,
          f"{what}: private customisation")
    # Organisations' datasets and the unscoped one are in the fixture (it is
    # wider than the tree), not global; the published organisation list is.
    for key in ORG_PARENTS:
        check(fields[key]["parent"] == pk[ORG_PARENTS[key]] and
              fields[key]["is_custom"], f"{what}: {key}'s parent")
    for key in [k for keys in ORG_DATASETS.values() for k in keys] + \
            ["unscoped_draft_list"]:
        check(fields[key]["is_global"] is False and
              fields[key]["organization"] is None,
              f"{what}: {key} is_global/organization")
    check(fields["referral_reasons_12"]["is_global"] is True,
          f"{what}: a published organisation list is not global")
    check(fields["ethnic_category_rcpch"]["sync_frequency_hours"] == 0,
          f"{what}: sync_frequency_hours 0")
    check(all(f["is_active"] for f in fields.values()), f"{what}: inactive row")


DJANGO_MODELS = '''
from django.conf import settings
from django.db import models
from django.db.models import Q


class Organization(models.Model):
    name = models.CharField(max_length=255)


class Team(models.Model):
    name = models.CharField(max_length=255)


class DataSet(models.Model):
    """CheckTick's surveys.DataSet at a6fccef (docs/CHECKTICK.md)."""
    CATEGORY_CHOICES = [("nhs_dd", "NHS Data Dictionary"),
                        ("external_api", "External API"),
                        ("user_created", "User Created"),
                        ("rcpch", "RCPCH API"), ("snomed", "SNOMED CT")]
    SOURCE_TYPE_CHOICES = [("api", "API"), ("manual", "Manual"),
                           ("imported", "Imported"), ("scrape", "Scraped"),
                           ("snomed_db", "SNOMED database")]
    SNOMED_QUERY_TYPE_CHOICES = [("refset", "Refset"),
                                 ("descendants", "Descendants"),
                                 ("ecl", "ECL"), ("mapped", "Mapped")]

    key = models.SlugField(max_length=100, unique=True, db_index=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=50, choices=CATEGORY_CHOICES,
                                default="user_created", db_index=True)
    source_type = models.CharField(max_length=20, choices=SOURCE_TYPE_CHOICES,
                                   default="manual")
    reference_url = models.URLField(blank=True, default="")
    nhs_dd_page_id = models.CharField(max_length=100, blank=True, default="")
    is_custom = models.BooleanField(default=True, db_index=True)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True,
                               blank=True, related_name="customizations")
    external_api_endpoint = models.CharField(max_length=255, blank=True,
                                             default="")
    external_api_url = models.URLField(blank=True, default="")
    sync_frequency_hours = models.IntegerField(null=True, blank=True,
                                               default=24)
    last_synced_at = models.DateTimeField(null=True, blank=True,
                                          db_index=True)
    last_scraped = models.DateTimeField(null=True, blank=True)
    nhs_dd_published_date = models.DateField(null=True, blank=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     null=True, blank=True,
                                     related_name="datasets")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True,
                             blank=True, related_name="datasets")
    is_global = models.BooleanField(default=False, db_index=True)
    options = models.JSONField(default=list)
    format_pattern = models.CharField(max_length=50, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL,
                                   on_delete=models.SET_NULL, null=True,
                                   blank=True,
                                   related_name="created_datasets")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.IntegerField(default=1)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    snomed_refset_id = models.CharField(max_length=30, blank=True, default="",
                                        db_index=True)
    snomed_query_type = models.CharField(
        max_length=20, blank=True, default="",
        choices=SNOMED_QUERY_TYPE_CHOICES)
    snomed_ecl = models.TextField(blank=True, default="")
    snomed_release_date = models.DateField(null=True, blank=True)
    snomed_member_count = models.IntegerField(null=True, blank=True)
    is_featured = models.BooleanField(default=False, db_index=True)
    is_active = models.BooleanField(default=True, db_index=True)

    class Meta:
        ordering = ["category", "name"]
        constraints = [
            models.CheckConstraint(
                check=~Q(category="nhs_dd", organization__isnull=False),
                name="nhs_dd_must_be_global"),
            models.CheckConstraint(
                check=~Q(is_global=True, organization__isnull=False,
                         published_at__isnull=True),
                name="platform_global_datasets_no_org"),
            models.CheckConstraint(
                check=~Q(organization__isnull=False, team__isnull=False),
                name="dataset_org_or_team_not_both"),
        ]
'''

DJANGO_RUNNER = '''
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import django
from django.conf import settings
settings.configure(
    DEBUG=False, SECRET_KEY="test", USE_TZ=True, TIME_ZONE="UTC",
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                    "surveys"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                           "NAME": os.path.join(os.path.dirname(
                               os.path.abspath(__file__)), "db.sqlite3")}},
)
django.setup()
from django.core import serializers
from django.core.management import call_command
from surveys.models import DataSet

fixture = sys.argv[1]
call_command("makemigrations", "surveys", verbosity=0)
call_command("migrate", verbosity=0)
call_command("loaddata", fixture, verbosity=0)
call_command("loaddata", fixture, verbosity=0)  # again: updates, no doubles
result = {"django": django.get_version(), "rows": DataSet.objects.count(),
          "invalid": {}, "options": {}, "parents": {}}
for obj in DataSet.objects.order_by("pk"):
    try:
        obj.full_clean()
    except Exception as e:  # ValidationError: which fields, and why
        result["invalid"][obj.key] = str(e)
    result["options"][obj.key] = list(obj.options.items())
    result["parents"][obj.key] = obj.parent.key if obj.parent else None
result["dumped"] = serializers.serialize(
    "json", DataSet.objects.order_by("pk"))
print(json.dumps(result))
'''


def load_into_django(fixture_path, fixture_bytes, tmp):
    """Loads the fixture into a throwaway Django project; None without
    python3-django."""
    try:
        import django  # noqa: F401
    except ImportError:
        return None
    project = os.path.join(tmp, "django_project")
    os.makedirs(os.path.join(project, "surveys", "migrations"))
    for path, text in (("surveys/__init__.py", ""),
                       ("surveys/migrations/__init__.py", ""),
                       ("surveys/models.py", DJANGO_MODELS),
                       ("run.py", DJANGO_RUNNER)):
        with open(os.path.join(project, path), "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
    proc = subprocess.run([sys.executable, os.path.join(project, "run.py"),
                           fixture_path], capture_output=True, cwd=project)
    if not check(proc.returncode == 0,
                 "django: loaddata failed:\n" + proc.stderr.decode(errors="replace")):
        return {}
    result = json.loads(proc.stdout)
    fixture = json.loads(fixture_bytes, object_pairs_hook=list)
    check(result["rows"] == len(fixture),
          f"django: {result['rows']} rows, fixture has {len(fixture)}")
    check(result["invalid"] == {}, f"django: full_clean failed: {result['invalid']}")
    # Django's own serializer writes back exactly the fixture: every field,
    # in the model's order, encoded as dumpdata does.
    dumped = json.loads(result["dumped"], object_pairs_hook=list)
    check(dumped == fixture,
          "django: dumpdata differs from the fixture:\n" +
          "\n".join(f"  row {i}: {a} != {b}" for i, (a, b) in
                    enumerate(zip(dumped, fixture)) if a != b)[:3000])
    plain = json.loads(fixture_bytes)
    for row in plain:
        key, options = row["fields"]["key"], row["fields"]["options"]
        check(result["options"].get(key) == [list(i) for i in options.items()],
              f"django: {key}'s options read back differently")
    check(result["parents"].get("ethnic_category_rcpch") == "ethnic_category",
          "django: parent FK of ethnic_category_rcpch")
    check(result["parents"].get("smoking_status_code_custom_7") ==
          "smoking_status_code", "django: parent FK of the private row")
    return result


# --- FORMATS.md --------------------------------------------------------------

def schema_property_names(node, out):
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            out.add(name)
            schema_property_names(sub, out)
        for k, v in node.items():
            if k != "properties":
                schema_property_names(v, out)
    elif isinstance(node, list):
        for v in node:
            schema_property_names(v, out)


def check_formats_md(path, raw_schemas, schemas):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for name in SCHEMA_NAMES:
        check(f"schemas/{name}.schema.json" in text,
              f"FORMATS.md does not mention schemas/{name}.schema.json")
    # Every member a schema knows is documented (in backticks).
    for name, raw in raw_schemas.items():
        names = set()
        schema_property_names(raw, names)
        missing = sorted(n for n in names if f"`{n}`" not in text)
        check(not missing, f"FORMATS.md does not document {name} members "
                           f"{missing}")
    # Its examples, marked <!-- schema: NAME -->, are valid documents.
    examples = re.findall(r"<!-- schema: ([a-z-]+) -->\s*```json\n(.*?)```",
                          text, re.S)
    check({n for n, _ in examples} >= set(SCHEMA_NAMES),
          f"FORMATS.md lacks a schema-checked example of "
          f"{sorted(set(SCHEMA_NAMES) - {n for n, _ in examples})}")
    for name, block in examples:
        try:
            doc = json.loads(block)
        except ValueError as e:
            check(False, f"FORMATS.md {name} example is not JSON: {e}")
            continue
        errors = list(schemas[name].iter_errors(doc))
        check(not errors, f"FORMATS.md {name} example: "
                          f"{[e.message for e in errors[:3]]}")
        if name == "org-manifest" and not errors:
            check_org_example(doc)
    # Its Python client code, run against every diff of the export.
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    check(len(blocks) == 1, f"FORMATS.md: {len(blocks)} python blocks, not 1")
    client = {}
    if blocks:
        exec(blocks[0], client)  # defines options_sha256 and apply_diff
    return len(examples), client


def check_org_example(doc):
    """FORMATS.md's organisation manifest example is one an export could
    write: files under its own orgs/<org>/ and dataset, a custom version
    whose parent is one of the global datasets it refers to."""
    org = doc["organization"]
    global_keys = [g["key"] for g in doc["global"]]
    check(global_keys == sorted(global_keys), "FORMATS.md org example: "
          "global not sorted by key")
    check(any(d["parent"] for d in doc["datasets"]),
          "FORMATS.md org example: no custom version (parent)")
    for d in doc["datasets"]:
        key, v = d["key"], d["version"]
        check(key not in global_keys,
              f"FORMATS.md org example: {key} is also global")
        if d["parent"]:
            check(d["parent"] in global_keys, f"FORMATS.md org example: "
                  f"{key}'s parent {d['parent']} is not global")
        check(d["sha256"] == d["snapshot"]["json_sha256"],
              f"FORMATS.md org example: {key} sha256")
        docs = [("datasets", v, d["snapshot"])]
        docs += [("diffs", f"{x['from']}-{x['to']}", x) for x in d["diffs"]]
        docs += [("datasets", o["version"], o)
                 for o in d.get("older_snapshots", [])]
        for kind, name, document in docs:
            for f in document["files"]:
                check(f["path"].startswith(
                          f"orgs/{org}/{kind}/{key}/{name}."
                          f"{document['json_sha256'][:12]}.json"),
                      f"FORMATS.md org example: path {f['path']}")
        if "fhir" in d:
            check(d["fhir"]["path"].startswith(f"orgs/{org}/fhir/{key}/{v}."),
                  f"FORMATS.md org example: path {d['fhir']['path']}")


def check_client_code(client, tree):
    """FORMATS.md's apply_diff turns every `from` snapshot into its `to`."""
    if "apply_diff" not in client:
        check(False, "FORMATS.md: no apply_diff")
        return
    for (key, a, b), diff in sorted(tree.diffs.items()):
        before, after = tree.snapshots[(key, a)], tree.snapshots[(key, b)]
        try:
            got = client["apply_diff"](before["options"], diff)
            check(got == after["options"],
                  f"FORMATS.md apply_diff on {key} {a}-{b} gives {got}")
        except Exception as e:  # noqa: BLE001 -- any failure is a finding
            check(False, f"FORMATS.md apply_diff on {key} {a}-{b}: {e!r}")
        check(client["options_sha256"](after["options"]) == after["sha256"],
              f"FORMATS.md options_sha256 on {key} {b}")


def check_schemas_are_strict(schemas, tree, fixture):
    """Mutations of valid documents that the schemas must reject."""
    manifest = json.loads(open(os.path.join(tree.root, "manifest.json"),
                               encoding="utf-8").read())
    snap = next(iter(tree.snapshots.values()))
    diff = next(d for d in tree.diffs.values() if d["patch"])

    def rejects(name, doc, mutate, what):
        doc = json.loads(json.dumps(doc))
        mutate(doc)
        check(not schemas[name].is_valid(doc), f"{name} schema accepts {what}")

    rejects("manifest", manifest, lambda d: d.update(extra=1), "an extra member")
    rejects("manifest", manifest, lambda d: d.update(format=2), "format 2")
    rejects("manifest", manifest,
            lambda d: d["datasets"][0].update(sha256="ABC"), "a bad sha256")
    rejects("manifest", manifest,
            lambda d: d["datasets"][0].update(created_at="2026-11-01 05:00:00"),
            "a time that is not ISO 8601 UTC")
    rejects("manifest", manifest,
            lambda d: d["datasets"][0]["snapshot"]["files"][0].update(
                path="../etc/passwd"), "a path outside the tree")
    rejects("manifest", manifest,
            lambda d: d["datasets"][0]["snapshot"]["files"].reverse(),
            "gzip before zstd")
    rejects("manifest", manifest, lambda d: d["datasets"][0].pop("diffs"),
            "a missing member")
    rejects("manifest", manifest,
            lambda d: d["datasets"][0]["snapshot"]["files"][0].update(
                path="orgs/org-7/" + d["datasets"][0]["snapshot"]["files"][0]
                ["path"]), "an organisation's path")

    # An organisation's manifest: org-12's, which has diffs and FHIR files.
    with open(os.path.join(tree.root, "orgs", "org-12", "manifest.json"),
              encoding="utf-8") as f:
        org = json.load(f)
    check(schemas["org-manifest"].is_valid(org), "org-12's manifest invalid")
    check(not schemas["manifest"].is_valid(org),
          "manifest schema accepts an organisation's manifest")
    check(not schemas["org-manifest"].is_valid(manifest),
          "org-manifest schema accepts the public manifest")
    rejects("org-manifest", org, lambda d: d.update(extra=1), "an extra member")
    rejects("org-manifest", org, lambda d: d.update(format=2), "format 2")
    rejects("org-manifest", org, lambda d: d.pop("global"), "no global")
    rejects("org-manifest", org, lambda d: d.pop("organization"),
            "no organization")
    rejects("org-manifest", org, lambda d: d.update(organization="Org 7"),
            "an organisation that is not a key")
    rejects("org-manifest", org, lambda d: d.update(datasets=[]),
            "no datasets of its own")
    rejects("org-manifest", org,
            lambda d: d["datasets"][0]["snapshot"]["files"][0].update(
                path=d["datasets"][0]["snapshot"]["files"][0]["path"]
                .split("/", 2)[2]), "a public snapshot path")
    rejects("org-manifest", org,
            lambda d: d["datasets"][0]["diffs"][0]["files"][1].update(
                path="orgs/../" + d["datasets"][0]["diffs"][0]["files"][1]
                ["path"]), "a path outside orgs/<org>/")
    rejects("org-manifest", org,
            lambda d: d["datasets"][0]["fhir"].update(
                path=d["datasets"][0]["fhir"]["path"].split("/", 2)[2]),
            "a public FHIR path")
    rejects("org-manifest", org,
            lambda d: d["datasets"][0]["older_snapshots"][0]["files"]
            .reverse(), "gzip before zstd")
    rejects("org-manifest", org, lambda d: d["datasets"][0].update(
        parent="Not a key"), "a parent that is not a key")
    rejects("org-manifest", org, lambda d: d["datasets"][0].update(
        category="private"), "an unknown category")
    rejects("org-manifest", org, lambda d: d["datasets"][0]["diffs"][0]
            ["summary"].update(moved=1), "an extra summary member")
    rejects("org-manifest", org, lambda d: d["global"][0].update(
        manifest="orgs/org-12/manifest.json"), "a global ref elsewhere")
    rejects("org-manifest", org, lambda d: d["global"][0].update(extra=1),
            "an extra global ref member")
    rejects("org-manifest", org, lambda d: d["global"][0].pop("sha256"),
            "a global ref without sha256")
    rejects("org-manifest", org, lambda d: d["global"][0].update(version=0),
            "a global ref to version 0")

    rejects("snapshot", snap, lambda d: d["options"][0].update(default=False),
            "default: false")
    rejects("snapshot", snap, lambda d: d["options"][0].update(code="x"),
            "an unknown option member")
    rejects("snapshot", snap, lambda d: d.update(options=[]), "no options")
    rejects("diff", diff, lambda d: d["patch"].append(
        {"op": "move", "from": "/a", "path": "/b"}), "a move operation")
    rejects("diff", diff, lambda d: d["patch"].append(
        {"op": "remove", "path": "/a/b"}), "an unescaped '/' in a path")
    rejects("diff", diff, lambda d: d["patch"].append(
        {"op": "remove", "path": "/a~2"}), "a bad '~' escape")
    rejects("diff", diff, lambda d: d["summary"].update(moved=1),
            "an extra summary member")
    rejects("checktick-fixture", fixture,
            lambda d: d[0]["fields"].pop("snomed_ecl"), "a missing field")
    rejects("checktick-fixture", fixture,
            lambda d: d[0]["fields"].update(name="n" * 256),
            "a name over 255 characters")
    rejects("checktick-fixture", fixture,
            lambda d: d[0]["fields"].update(reference_url="x" * 201),
            "a URL over 200 characters")


# --- main --------------------------------------------------------------------

def validator(cls, raw, all_raw):
    """A validator of `raw` that resolves $refs to the other schemas by
    their $id, never over the network."""
    try:
        from referencing import Registry, Resource  # jsonschema >= 4.18
    except ImportError:
        store = {r["$id"]: r for r in all_raw}
        return cls(raw, resolver=jsonschema.RefResolver.from_schema(
            raw, store=store))
    registry = Registry().with_resources(
        (r["$id"], Resource.from_contents(r)) for r in all_raw)
    return cls(raw, registry=registry)


def schema_refs(node, out):
    if isinstance(node, dict):
        if "$ref" in node:
            out.append(node["$ref"])
        for v in node.values():
            schema_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            schema_refs(v, out)


def snapshot_tree(root):
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.stat(p)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = (f.read(), st.st_mtime_ns,
                                                 st.st_ino)
    return out


def main():
    datasnap, maker, formats_md, manifest_schema = sys.argv[1:5]
    schema_dir = os.path.dirname(manifest_schema)
    raw_schemas, schemas = {}, {}
    for name in SCHEMA_NAMES:
        with open(os.path.join(schema_dir, f"{name}.schema.json"),
                  encoding="utf-8") as f:
            raw_schemas[name] = json.load(f)
    for name, raw in raw_schemas.items():
        cls = jsonschema.validators.validator_for(raw)
        cls.check_schema(raw)
        check(cls is jsonschema.Draft202012Validator,
              f"{name}: not a draft 2020-12 schema")
        check(raw.get("$id") == "https://datasnap.rcpch.ac.uk/schemas/"
              f"{name}.schema.json", f"{name}: $id {raw.get('$id')!r}")
        schemas[name] = validator(cls, raw, raw_schemas.values())
    # org-manifest.schema.json reuses manifest.schema.json's definitions;
    # every $ref resolves offline, to a local or a sibling schema.
    refs = []
    schema_refs(raw_schemas["org-manifest"], refs)
    check(refs and all(r.startswith(("#", "manifest.schema.json#"))
                       for r in refs),
          f"org-manifest: $refs beyond manifest.schema.json: "
          f"{sorted(set(r for r in refs if not r.startswith(('#', 'manifest'))))}")
    for r in sorted(set(refs)):
        document, _, pointer = r.partition("#")
        node = raw_schemas["manifest" if document else "org-manifest"]
        try:
            for token in pointer_tokens(pointer):
                node = node[token]
            check(isinstance(node, dict), f"org-manifest: $ref {r} is no schema")
        except (KeyError, ValueError) as e:
            check(False, f"org-manifest: $ref {r} does not resolve: {e!r}")

    tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    store = os.path.join(tmp, "export.lmdb")
    run(maker, store)

    def export(out, fixture):
        proc = subprocess.run([datasnap, "--store", store, "export", "--out",
                               out, "--fhir", "--all-versions",
                               "--checktick-fixture", fixture],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"datasnap export failed ({proc.returncode}):\n"
                     f"{proc.stdout}{proc.stderr}")
        return proc.stdout

    out1, fixture1 = os.path.join(tmp, "out1"), os.path.join(tmp, "fixture1.json")
    print(export(out1, fixture1), end="")
    tree = check_tree(out1, schemas)

    # `datasnap diff KEY FROM TO --format json` prints the published diff,
    # and `--format patch` its patch.
    for (key, a, b), diff in sorted(tree.diffs.items()):
        for fmt, doc in (("json", diff), ("patch", diff["patch"])):
            proc = subprocess.run([datasnap, "--store", store, "diff", key,
                                   str(a), str(b), "--format", fmt],
                                  capture_output=True)
            expected = json.dumps(doc, ensure_ascii=False,
                                  separators=(",", ":")) + "\n"
            check(proc.returncode == 0 and
                  proc.stdout == expected.encode("utf-8"),
                  f"datasnap diff {key} {a} {b} --format {fmt} differs from "
                  f"the published diff: {proc.stdout[:200]!r} "
                  f"{proc.stderr[:200]!r}")

    with open(fixture1, "rb") as f:
        fixture_bytes = f.read()
    fixture = json.loads(fixture_bytes, object_pairs_hook=no_duplicates)
    check_fixture(fixture, tree)
    check_schemas_are_strict(schemas, tree, fixture)
    examples, client = check_formats_md(formats_md, raw_schemas, schemas)
    check_client_code(client, tree)

    # Exporting again changes nothing: not a byte, not an mtime, not an inode.
    before = snapshot_tree(out1)
    again = export(out1, fixture1)
    after = snapshot_tree(out1)
    check(set(before) == set(after),
          f"second export changed the file list: "
          f"{sorted(set(before) ^ set(after))}")
    for p in sorted(set(before) & set(after)):
        check(before[p] == after[p], f"second export touched {p}")
    check(" 0 files written" in again and "(unchanged)" in again,
          f"second export reports writing: {again.strip()}")
    with open(fixture1, "rb") as f:
        check(f.read() == fixture_bytes, "second export changed the fixture")

    # A fresh directory gets the same bytes.
    out2, fixture2 = os.path.join(tmp, "out2"), os.path.join(tmp, "fixture2.json")
    export(out2, fixture2)
    second = snapshot_tree(out2)
    check(sorted(second) == sorted(after),
          f"fresh export lists other files: {sorted(set(second) ^ set(after))}")
    for p in sorted(set(second) & set(after)):
        check(second[p][0] == after[p][0], f"fresh export differs in {p}")
    with open(fixture2, "rb") as f:
        check(f.read() == fixture_bytes, "fresh export wrote another fixture")

    django = load_into_django(fixture1, fixture_bytes, tmp)
    if django is None:
        print("NOTE: python3-django is not installed; the CheckTick fixture "
              "was checked field by field against docs/CHECKTICK.md "
              "only (apt-get install python3-django to load it)")
    elif django:
        print(f"CheckTick fixture: {django['rows']} rows loaded into Django "
              f"{django['django']} (SQLite), full_clean() passed, dumpdata "
              f"gives the fixture back")

    fhir = sum(1 for p in tree.listed if re.match(r"(orgs/[^/]+/)?fhir/", p))
    print(f"{len(PUBLISHED)} public datasets; {len(tree.owner)} datasets of "
          f"{tree.org_manifests} organisations under orgs/ only (their "
          f"manifests refer to the public {len(PUBLISHED)}); "
          f"{len(UNPUBLISHED)} unpublished found in no file")
    print(f"{len(tree.snapshots)} snapshots, {len(tree.diffs)} diffs, "
          f"{fhir} FHIR ValueSets, manifests and fixture: "
          f"{tree.documents} documents validated against their schemas "
          f"(+{examples} FORMATS.md examples; its apply_diff replayed every diff); {tree.files} files "
          f"({tree.bytes} bytes; {tree.json_bytes} bytes of JSON) checked "
          f"against the manifest or their names; fixture {len(fixture_bytes)} "
          f"bytes; {check.checks} checks")
    shutil.rmtree(tmp, ignore_errors=True)
    if check.failures:
        for f in check.failures:
            print("FAIL:", f)
        sys.exit(f"{len(check.failures)} of {check.checks} checks failed")


if __name__ == "__main__":
    main()
