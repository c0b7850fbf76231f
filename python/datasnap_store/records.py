"""What the reader returns (immutable records), and how schemas 1 and 2
decode them.

docs/STORE.md is the contract; store/record_codec.cc is the writer. Every
decoder checks the fields it returns and raises CorruptRecord naming the
database, the key and what is wrong, never a bare KeyError or TypeError.

A later schema adds a codec class with the same methods and an entry in
CODECS.
"""
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

from datasnap_store.errors import CorruptRecord

CATEGORIES = ("nhs_dd", "rcpch", "external_api", "user_created")
SOURCE_TYPES = ("scrape", "api", "manual", "imported")


class Option(NamedTuple):
    """One option of a list: `value` is the code stored as the answer,
    `label` what the user sees, `parent` the value of another option of the
    same list (hierarchies only), `default` true on a default code such as
    "Not known". Immutable (a NamedTuple: cheap to build, safe to share from
    the cache); json.dumps would write it as an array, so use as_dict()."""
    value: str
    label: str
    parent: Optional[str] = None
    default: bool = False

    def as_dict(self):
        """The option as docs/STORE.md writes it (and `datasnap show --json`
        prints it): value, label, then parent and default only when set."""
        d = {"value": self.value, "label": self.label}
        if self.parent is not None:
            d["parent"] = self.parent
        if self.default:
            d["default"] = True
        return d


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a version came from. Absent fields are None."""
    source_url: Optional[str]
    fetched_at: Optional[str]
    etag: Optional[str]
    last_modified: Optional[str]
    content_type: Optional[str]
    raw_sha256: Optional[str]
    note: Optional[str]


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset record (the `datasets` database). Times are ISO 8601 UTC
    strings or None; `version` is the current version, 0 while none has been
    stored; `is_active` false marks a soft-deleted dataset."""
    key: str
    name: str
    description: str
    category: str
    source_type: str
    reference_url: Optional[str]
    api_endpoint: Optional[str]
    tags: Tuple[str, ...]
    aliases: Tuple[str, ...]
    sync_frequency_hours: int
    is_custom: bool
    is_global: bool
    parent: Optional[str]
    organization: Optional[str]
    is_active: bool
    version: int
    option_count: int
    options_sha256: Optional[str]
    last_synced_at: Optional[str]
    last_scraped: Optional[str]
    last_checked_at: Optional[str]
    last_error: Optional[str]
    created_at: Optional[str]
    updated_at: Optional[str]

    def visible_to(self, org):
        """What `datasnap list --org ORG` shows: global lists, and the
        organisation's own."""
        return self.is_global or (org is not None and self.organization == org)


@dataclass(frozen=True, slots=True)
class Version:
    """A version record (the `versions` database). `options` is a tuple of
    Option, or None in the summaries versions() returns; `options_json` the
    canonical JSON bytes the SHA-256 covers (None in summaries)."""
    key: str
    version: int
    created_at: str
    option_count: int
    options_sha256: str
    provenance: Provenance
    options: Optional[Tuple[Option, ...]] = None
    options_json: Optional[bytes] = None


class CanonicalOptions(NamedTuple):
    """A version's options as their canonical JSON bytes (docs/STORE.md),
    checked against `sha256`: ready to send as an HTTP body, with `sha256`
    as its ETag."""
    key: str
    version: int
    sha256: str
    json: bytes


def canonical_options_json(options):
    """The canonical JSON bytes of a list of option dicts (docs/STORE.md)."""
    return json.dumps(options, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------- schema 1

# Field tables: name, accepted types, nullable. bool is a subclass of int,
# so integer fields exclude it explicitly below.
_TEXT, _INT, _BOOL, _LIST = (str,), (int,), (bool,), (list,)
_DATASET_FIELDS = (
    ("key", _TEXT, False), ("name", _TEXT, False),
    ("description", _TEXT, False), ("category", _TEXT, False),
    ("source_type", _TEXT, False), ("reference_url", _TEXT, True),
    ("api_endpoint", _TEXT, True), ("tags", _LIST, False),
    ("aliases", _LIST, False), ("sync_frequency_hours", _INT, False),
    ("is_custom", _BOOL, False), ("is_global", _BOOL, False),
    ("parent", _TEXT, True), ("organization", _TEXT, True),
    ("is_active", _BOOL, False), ("version", _INT, False),
    ("option_count", _INT, False), ("options_sha256", _TEXT, True),
    ("last_synced_at", _TEXT, True), ("last_scraped", _TEXT, True),
    ("last_checked_at", _TEXT, True), ("last_error", _TEXT, True),
    ("created_at", _TEXT, True), ("updated_at", _TEXT, True),
)
_VERSION_FIELDS = (
    ("key", _TEXT, False), ("version", _INT, False),
    ("created_at", _TEXT, False), ("option_count", _INT, False),
    ("options_sha256", _TEXT, False), ("provenance", (dict,), False),
)
_PROVENANCE_FIELDS = tuple((name, _TEXT, True) for name in Provenance.__slots__)
_OPTIONS_MEMBER = b',"options":'


def _checked(obj, fields, db, key, where=""):
    """The values of `fields` in `obj`, in order, each type-checked."""
    if not isinstance(obj, dict):
        raise CorruptRecord(db, key, f"{where or 'record'} is not a JSON object")
    out = []
    for name, types, nullable in fields:
        if name not in obj:
            raise CorruptRecord(db, key, f"field '{where}{name}' is missing")
        v = obj[name]
        ok = (v is None and nullable) or (
            isinstance(v, types) and not (types is _INT and isinstance(v, bool)))
        if not ok:
            raise CorruptRecord(db, key, f"field '{where}{name}' is {json.dumps(v)[:60]}, "
                                         f"expected {'/'.join(t.__name__ for t in types)}"
                                         f"{' or null' if nullable else ''}")
        out.append(v)
    return out


def _loads(raw, db, key, what="record"):
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as e:
        raise CorruptRecord(db, key, f"{what} is not valid UTF-8 JSON ({e})") from None


class SchemaV1:
    """Schema 1 (docs/STORE.md, Schema history): UTF-8 JSON records; a
    version record's `options` array is stored as its canonical JSON text,
    last. A store the previous release wrote, until a writer migrates it."""

    version = 1
    # The tables this layout has beyond the common ones.
    tables = ()

    @staticmethod
    def decode_dataset(raw, key):
        v = _checked(_loads(raw, "datasets", key), _DATASET_FIELDS, "datasets", key)
        v[7], v[8] = tuple(v[7]), tuple(v[8])  # tags, aliases
        d = Dataset(*v)
        if d.key != key:
            raise CorruptRecord("datasets", key, f"record says key '{d.key}'")
        for name in ("tags", "aliases"):
            if not all(isinstance(t, str) for t in getattr(d, name)):
                raise CorruptRecord("datasets", key, f"field '{name}' holds a non-string")
        if d.version < 0 or d.option_count < 0:
            raise CorruptRecord("datasets", key, "negative version or option_count")
        return d

    @staticmethod
    def decode_version(raw, key, version, with_options, options_raw=None):
        """A Version checked against its SHA-256: `options` (and
        `options_json`) filled when with_options. `options_raw` is unused
        (schema 1 keeps the options in the record)."""
        where = f"{key}@{version}"
        header, options_json, hashed = _split_version(raw, where)
        return _version(header, options_json, hashed, key, version, with_options,
                        "versions")


class SchemaV2(SchemaV1):
    """Schema 2 (docs/STORE.md): version records without their options; the
    options of each version are their canonical JSON bytes in the `options`
    table under the version's key; `current` names each dataset's current
    version (4 bytes big-endian, then the binary SHA-256 of its options)."""

    version = 2
    tables = (b"options", b"current")

    @staticmethod
    def decode_version(raw, key, version, with_options, options_raw):
        """As SchemaV1's; `options_raw` is the version's `options` value
        (None when the table lacks it: a corrupt store)."""
        where = f"{key}@{version}"
        header = _loads(raw, "versions", where)
        if isinstance(header, dict) and "options" in header:
            raise CorruptRecord("versions", where, "a schema-2 version record has an "
                                                   "'options' member")
        if options_raw is None:
            raise CorruptRecord("options", where, "the version's options are missing")
        return _version(header, bytes(options_raw), False, key, version, with_options,
                        "options")

    @staticmethod
    def check_current(current_raw, key, version, options_sha256):
        """Checks the dataset's `current` entry against its record."""
        if current_raw is None:
            raise CorruptRecord("current", key, f"no entry, but the dataset record "
                                                f"names version {version}")
        if len(current_raw) != 36:
            raise CorruptRecord("current", key, f"{len(current_raw)} bytes, expected 36")
        named = struct.unpack(">I", current_raw[:4])[0]
        if named != version or bytes(current_raw[4:]).hex() != options_sha256:
            raise CorruptRecord("current", key, f"names version {named} "
                                                f"({bytes(current_raw[4:]).hex()[:12]}…); "
                                                f"the dataset record says {version} "
                                                f"({(options_sha256 or '')[:12]}…)")


def _version(header, options_json, hashed, key, version, with_options, options_db):
    """The Version of a decoded header and its canonical options bytes
    (`hashed`: already found to match the header's options_sha256), read
    from table `options_db` (named in errors about them)."""
    where = f"{key}@{version}"
    key_f, version_f, created_at, count, sha, prov = _checked(
        header, _VERSION_FIELDS, "versions", where)
    provenance = Provenance(*_checked(prov, _PROVENANCE_FIELDS, "versions", where,
                                      "provenance."))
    if (key_f, version_f) != (key, version):
        raise CorruptRecord("versions", where,
                            f"record says {key_f}@{version_f}")
    if not hashed and hashlib.sha256(options_json).hexdigest() != sha:
        raise CorruptRecord(options_db, where,
                            "options do not match their recorded SHA-256")
    options = None
    if with_options:
        options = decode_options(options_json, where, options_db)
        if len(options) != count:
            raise CorruptRecord("versions", where, f"option_count is {count} but "
                                                   f"{len(options)} options are stored")
    return Version(key_f, version_f, created_at, count, sha, provenance,
                   options, options_json if with_options else None)


def _split_version(raw, where):
    """(header dict without options, canonical options JSON bytes, whether
    those bytes were already found to match the header's options_sha256).

    Fast path: datasnap writes the canonical options text as the record's
    last member, so the bytes after the last `,"options":` (before the
    closing brace) are exactly what options_sha256 hashes, and only the
    small header needs decoding. A JSON string cannot hold `,"options":`
    (its quote would be escaped) and option objects have no `options`
    member, so that occurrence is the record's own member; the caller's
    SHA-256 check confirms the bytes. Any other valid layout takes the slow
    path: decode everything and re-encode the options canonically.
    """
    at = raw.rfind(_OPTIONS_MEMBER)
    if at > 0 and raw.endswith(b"}"):
        try:
            header = json.loads(raw[:at] + b"}")
        except ValueError:
            header = None
        if isinstance(header, dict) and "options" not in header:
            tail = raw[at + len(_OPTIONS_MEMBER):-1]
            sha = header.get("options_sha256")
            if isinstance(sha, str) and hashlib.sha256(tail).hexdigest() == sha:
                return header, tail, True
    record = _loads(raw, "versions", where)
    if not isinstance(record, dict):
        raise CorruptRecord("versions", where, "record is not a JSON object")
    if not isinstance(record.get("options"), list):
        raise CorruptRecord("versions", where, "field 'options' is missing or not an array")
    options = record.pop("options")
    return record, canonical_options_json(options), False


def decode_options(options_json, where, db="versions"):
    """A tuple of Option from canonical options JSON (already hash-checked)
    read from table `db`."""
    items = _loads(options_json, db, where, "options")
    if not isinstance(items, list):
        raise CorruptRecord(db, where, "options is not an array")
    out = []
    append = out.append
    for o in items:
        try:
            option = Option(**o)  # a non-object, or other members: TypeError
        except TypeError:
            option = None
        if (option is None or type(option.value) is not str
                or type(option.label) is not str
                or (option.parent is not None and type(option.parent) is not str)
                or type(option.default) is not bool):
            raise CorruptRecord(db, where,
                                f"options[{len(out)}] is not a {{value, label[, parent]"
                                f"[, default]}} object: "
                                f"{json.dumps(o, ensure_ascii=False)[:80]}")
        append(option)
    return tuple(out)


# The schemas this reader understands, by meta schema_version.
CODECS = {1: SchemaV1, 2: SchemaV2}
