"""Store: a read-only view of a datasnap LMDB store (docs/STORE.md).

    store = Store("/var/lib/datasnap/datasnap.lmdb")   # once per process
    store.options("smoking_status_code")               # tuple of Option
    store.dataset("smoking_status")                    # aliases resolve

Every call runs in its own short LMDB read transaction, so it sees one
whole write of the writer and never blocks it. A Store is safe to share
between threads; it must be opened after forking (gunicorn's post_fork,
or lazily as datasnap_django does), and raises StoreError when used in a
child process it was not opened in.
"""
import difflib
import os
import struct
import threading
import weakref

import lmdb

from datasnap_store.errors import (CorruptRecord, DatasetDeleted, KeyNotFound,
                                   SchemaTooNew, StoreError, VersionNotFound)
from datasnap_store.records import CATEGORIES, CODECS, CanonicalOptions

_TABLES = (b"meta", b"datasets", b"versions", b"aliases")
# Decoded records kept per process. Entries are immutable and keyed by what
# makes them true: a dataset record by its exact bytes; a version's options
# by (key, version, options_sha256); versions never change once written and
# their numbers never repeat (meta version_floor/<key>).
_CACHE_ENTRIES = 512

# The files open in this process, by (pid, device, inode): LMDB forbids
# opening one environment twice in a process (closing the second would drop
# the first's locks, and a writer could then overwrite pages it reads).
_open_files = weakref.WeakValueDictionary()
_open_files_lock = threading.Lock()
# Environments a forked child inherited. The child must never close them:
# closing would drop that process's fcntl locks on the lock file, which a
# Store the child opens itself relies on. So they stay referenced here.
_inherited_envs = []


def _after_fork_in_child():
    for store in list(_open_files.values()):
        if store._env is not None:
            _inherited_envs.append(store._env)


os.register_at_fork(after_in_child=_after_fork_in_child)


class _ReadAgain(Exception):
    """Internal: the read must start over in a new transaction."""


class _BoundedCache(dict):
    """A dict that empties itself when full: simple, and correct because
    every entry can be rebuilt from the store."""

    def put(self, key, value):
        if len(self) >= _CACHE_ENTRIES:
            self.clear()
        self[key] = value
        return value


class Store:
    """A datasnap store opened read-only. `path` is the data file (LMDB
    MDB_NOSUBDIR; the lock table is `path`-lock, which LMDB's reader table
    needs write access to unless the file system is read-only)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise StoreError(f"no store at '{self.path}' (is DATASNAP_STORE / the path "
                             f"right? `datasnap refresh` creates one)")
        if os.path.isdir(self.path):
            raise StoreError(f"'{self.path}' is a directory; a datasnap store is a "
                             f"single file")
        if os.path.getsize(self.path) == 0:
            raise StoreError(f"'{self.path}' is empty, not a datasnap store")
        self._pid = os.getpid()
        st = os.stat(self.path)
        self._file_id = (self._pid, st.st_dev, st.st_ino)
        with _open_files_lock:
            if _open_files.get(self._file_id) is not None:
                raise StoreError(f"store '{self.path}' is already open in this process; "
                                 f"share that Store (it is thread-safe): LMDB forbids "
                                 f"opening one file twice in a process")
            _open_files[self._file_id] = self
        self._env = None
        try:
            self._env = self._open_env()
            self._dbs = self._open_tables()
            with self._env.begin() as txn:
                self._schema_raw = txn.get(b"schema_version", db=self._dbs[b"meta"])
            self.schema_version = self._parse_schema(self._schema_raw)
            self._codec = CODECS[self.schema_version]
            self._open_schema_tables(self._codec)
        except BaseException:
            self.close()
            raise
        # Readers in flight, and a map resize waiting for them to finish
        # (LMDB changes the map size only with no transaction open).
        self._gate = threading.Condition(threading.Lock())
        self._active = 0
        self._resizing = False
        # How often this Store adopted a map the writer grew (diagnostics).
        self.map_resizes = 0
        self._datasets = _BoundedCache()
        self._options = _BoundedCache()

    # ------------------------------------------------------------- opening

    def _open_env(self):
        try:
            # readonly: MDB_RDONLY, the data file is never written; lock=True
            # keeps LMDB's reader table, which a running writer relies on.
            return lmdb.open(self.path, subdir=False, readonly=True, lock=True,
                             create=False, max_dbs=16,
                             map_size=0)  # 0: the size the writer recorded
        except lmdb.InvalidError:
            raise StoreError(f"'{self.path}' is not an LMDB file (is the path pointing "
                             f"at something else?)") from None
        except lmdb.Error as e:
            if "Permission denied" in str(e) or "Read-only" in str(e):
                raise StoreError(
                    f"permission denied opening store '{self.path}' (readers need write "
                    f"access to '{self.path}-lock' too, unless the file system is "
                    f"read-only): {e}") from None
            raise StoreError(f"cannot open store '{self.path}': {e}") from None

    def _open_tables(self):
        dbs = {}
        for name in _TABLES:
            try:
                dbs[name] = self._env.open_db(name, create=False)
            except lmdb.NotFoundError:
                raise StoreError(f"'{self.path}' is not a datasnap store (it has no "
                                 f"'{name.decode()}' table)") from None
        return dbs

    def _open_schema_tables(self, codec):
        """The tables only some schemas have (schema 2: options, current)."""
        for name in codec.tables:
            try:
                self._dbs[name] = self._env.open_db(name, create=False)
            except lmdb.NotFoundError:
                raise StoreError(f"'{self.path}' says schema {codec.version} but has no "
                                 f"'{name.decode()}' table: a damaged store") from None

    def _parse_schema(self, raw):
        if raw is None:
            raise StoreError(f"'{self.path}' is not a datasnap store (no schema_version)")
        try:
            found = int(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            found = 0
        if found < 1:
            raise StoreError(f"'{self.path}' has an unreadable schema_version {raw!r}")
        if found not in CODECS:
            raise SchemaTooNew(self.path, found, CODECS)
        return found

    def clear_cache(self):
        """Forgets the decoded records kept for speed (never needed for
        correctness; see python/README.md, Caching)."""
        self._datasets.clear()
        self._options.clear()

    def close(self):
        """Closes the environment; later calls raise StoreError."""
        if self._env is not None and os.getpid() == self._pid:
            self._env.close()
        self._env = None
        with _open_files_lock:
            if _open_files.get(self._file_id) is self:
                del _open_files[self._file_id]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------- reading

    def _read(self, fn):
        """fn(txn) in one read transaction, adopting a grown map and retrying
        when LMDB says the writer resized it (MDB_MAP_RESIZED)."""
        if os.getpid() != self._pid:
            raise StoreError(f"this Store of '{self.path}' was opened in process "
                             f"{self._pid}; LMDB environments do not survive fork: open "
                             f"one in each process after forking")
        if self._env is None:
            raise StoreError(f"store '{self.path}' is closed")
        for _ in range(3):
            with self._gate:
                while self._resizing:
                    self._gate.wait()
                self._active += 1
            try:
                try:
                    txn = self._env.begin()
                except lmdb.MapResizedError:
                    txn = None
                if txn is not None:
                    try:
                        self._check_schema_unchanged(txn)
                        return fn(txn)
                    except _ReadAgain:
                        continue
                    finally:
                        txn.abort()  # a read transaction: ends it (kept as a spare)
            finally:
                with self._gate:
                    self._active -= 1
                    self._gate.notify_all()
            self._adopt_map_size()
        raise StoreError(f"store '{self.path}': the map kept growing while opening a "
                         f"read transaction; try again")

    def _check_schema_unchanged(self, txn):
        # A store migrated while this reader is open (datasnap upgraded) must
        # not be read with the old schema's codec: checked on every read.
        raw = txn.get(b"schema_version", db=self._dbs[b"meta"])
        if raw != self._schema_raw:
            found = self._parse_schema(raw)  # SchemaTooNew when unknown
            # The new layout's tables, opened in a transaction of their own
            # (a handle opened inside a read transaction dies with it, and
            # one opened later is invalid in it): so the read starts over.
            self._open_schema_tables(CODECS[found])
            self._codec, self.schema_version, self._schema_raw = CODECS[found], found, raw
            self.clear_cache()
            raise _ReadAgain()

    def _adopt_map_size(self):
        with self._gate:
            if self._resizing:  # another thread is at it: wait for it
                while self._resizing:
                    self._gate.wait()
                return
            self._resizing = True
            try:
                while self._active:
                    self._gate.wait()
                # 0: take the size the writer recorded in the file.
                self._env.set_mapsize(0)
                self.map_resizes += 1
            finally:
                self._resizing = False
                self._gate.notify_all()

    def _resolve(self, txn, key):
        """(key, raw dataset record) of `key` or the dataset it aliases."""
        if not isinstance(key, str):
            raise TypeError(f"dataset key must be a str, not {type(key).__name__}")
        k = key.encode("utf-8")
        if not k or len(k) > 511:
            raise KeyNotFound(key, None)
        raw = txn.get(k, db=self._dbs[b"datasets"])
        if raw is None:
            target = txn.get(k, db=self._dbs[b"aliases"])
            if target is not None:
                raw = txn.get(target, db=self._dbs[b"datasets"])
                k = target
        if raw is None:
            raise KeyNotFound(key, self._suggest(txn, key))
        return k.decode("utf-8"), raw

    def _suggest(self, txn, typed):
        candidates = []
        for k, raw in txn.cursor(db=self._dbs[b"datasets"]):
            candidates.append(k.decode("utf-8", "replace"))
        for k, _ in txn.cursor(db=self._dbs[b"aliases"]):
            candidates.append(k.decode("utf-8", "replace"))
        close = difflib.get_close_matches(typed, candidates, n=1, cutoff=0.75)
        if close:
            return close[0]
        contains = [c for c in candidates if typed and (typed in c or c in typed)]
        return min(contains, key=len) if contains else None

    def _dataset(self, key, raw):
        d = self._datasets.get(raw)
        if d is None or d.key != key:
            d = self._datasets.put(raw, self._codec.decode_dataset(raw, key))
        return d

    def _visible(self, d, typed, org):
        if org is not None and not d.visible_to(org):
            raise KeyNotFound(typed, message=(
                f"no dataset '{typed}' visible to organisation '{org}' (it belongs to "
                f"{('organisation ' + repr(d.organization)) if d.organization else 'no organisation'}"
                f" and is not global)"))

    def _version_raw(self, txn, key, n):
        vkey = key.encode("utf-8") + b"\x00" + struct.pack(">I", n)
        return txn.get(vkey, db=self._dbs[b"versions"])

    def _decode_version(self, txn, key, n, vraw, with_options, vkey=None):
        """The Version of record `vraw`: for schema 2 with its options from
        the `options` table (also for summaries, whose hash is checked)."""
        options_raw = None
        if b"options" in self._codec.tables:
            if vkey is None:
                vkey = key.encode("utf-8") + b"\x00" + struct.pack(">I", n)
            options_raw = txn.get(vkey, db=self._dbs[b"options"])
        return self._codec.decode_version(vraw, key, n, with_options, options_raw)

    def _current(self, txn, typed, org):
        """(Dataset, Version with options) of the current version."""
        key, raw = self._resolve(txn, typed)
        d = self._dataset(key, raw)
        self._visible(d, typed, org)
        if not d.is_active:
            raise DatasetDeleted(key)
        if d.version == 0:
            raise VersionNotFound(key, 0, 0)
        cache_key = (key, d.version, d.options_sha256)
        v = self._options.get(cache_key)
        if v is None:
            vraw = self._version_raw(txn, key, d.version)
            if vraw is None:
                raise CorruptRecord("datasets", key, f"current version {d.version} is not "
                                                     f"in 'versions'")
            v = self._decode_version(txn, key, d.version, vraw, with_options=True)
            if v.options_sha256 != d.options_sha256:
                raise CorruptRecord("datasets", key, f"options_sha256 differs from version "
                                                     f"{d.version}'s record")
            self._options.put(cache_key, v)
        if b"current" in self._codec.tables:
            # Checked on every read (one lookup): a dataset record that
            # disagrees with `current` is damage, whatever the cache holds.
            self._codec.check_current(txn.get(key.encode("utf-8"), db=self._dbs[b"current"]),
                                      key, d.version, d.options_sha256)
        return d, v

    # ---------------------------------------------------------- public API

    def dataset(self, key, *, org=None):
        """The Dataset record of `key` (or an older key of it), deleted ones
        included (check `is_active`). With `org`, only a dataset that
        organisation sees. Raises KeyNotFound."""
        def read(txn):
            k, raw = self._resolve(txn, key)
            d = self._dataset(k, raw)
            self._visible(d, key, org)
            return d
        return self._read(read)

    def options(self, key, *, org=None):
        """The current options of `key` (aliases resolve), a tuple of Option
        in the source's order, checked against their SHA-256. Raises
        KeyNotFound (DatasetDeleted for a soft-deleted dataset,
        VersionNotFound when it has none yet) or CorruptRecord."""
        return self._read(lambda txn: self._current(txn, key, org)[1].options)

    def options_json(self, key, *, org=None):
        """The current options as CanonicalOptions(key, version, sha256,
        json): the canonical JSON bytes the SHA-256 covers, for an HTTP body
        without decoding and re-encoding. Errors as options()."""
        def read(txn):
            d, v = self._current(txn, key, org)
            return CanonicalOptions(d.key, v.version, v.options_sha256, v.options_json)
        return self._read(read)

    def current_version(self, key, *, org=None):
        """The Version (with options) that options() reads."""
        return self._read(lambda txn: self._current(txn, key, org)[1])

    def version(self, key, n, *, org=None):
        """Version `n` (1, 2, ...) of `key`, with options, also of a deleted
        dataset. Raises VersionNotFound, KeyNotFound, CorruptRecord."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1 or n > 0xFFFFFFFF:
            raise ValueError(f"version must be an integer from 1, not {n!r}")

        def read(txn):
            k, raw = self._resolve(txn, key)
            d = self._dataset(k, raw)
            self._visible(d, key, org)
            vraw = self._version_raw(txn, k, n)
            if vraw is None:
                raise VersionNotFound(k, n, d.version)
            return self._decode_version(txn, k, n, vraw, with_options=True)
        return self._read(read)

    def versions(self, key, *, org=None):
        """Every version of `key`, oldest first, as Version summaries
        (options None), each checked against its SHA-256; [] when it has
        none yet."""
        def read(txn):
            k, raw = self._resolve(txn, key)
            d = self._dataset(k, raw)
            self._visible(d, key, org)
            prefix = k.encode("utf-8") + b"\x00"
            out = []
            cursor = txn.cursor(db=self._dbs[b"versions"])
            if cursor.set_range(prefix):
                for vkey, vraw in cursor:
                    if not vkey.startswith(prefix):
                        break
                    if len(vkey) != len(prefix) + 4:
                        raise CorruptRecord("versions", repr(vkey), "malformed key")
                    n = struct.unpack(">I", vkey[-4:])[0]
                    out.append(self._decode_version(txn, k, n, vraw, with_options=False,
                                                    vkey=bytes(vkey)))
            return out
        return self._read(read)

    def datasets(self, category=None, org=None, *, include_deleted=False):
        """Active Dataset records sorted by key, as `datasnap list` shows
        them: with `category`, that category only; with `org`, the global
        lists and that organisation's own (without `org`, every
        organisation's too: pass org for what a tenant may see)."""
        if category is not None and category not in CATEGORIES:
            raise ValueError(f"unknown category '{category}'; categories are "
                             f"{', '.join(CATEGORIES)}")

        def read(txn):
            out = []
            for k, raw in txn.cursor(db=self._dbs[b"datasets"]):
                d = self._dataset(k.decode("utf-8"), raw)
                if not d.is_active and not include_deleted:
                    continue
                if org is not None and not d.visible_to(org):
                    continue
                if category is not None and d.category != category:
                    continue
                out.append(d)
            return out
        return self._read(read)

    def keys(self, category=None, org=None):
        """The keys of datasets(category, org)."""
        return [d.key for d in self.datasets(category, org)]
