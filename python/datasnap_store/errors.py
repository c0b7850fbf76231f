"""The errors the reader raises. Every one names what failed and what to do.

    DatasnapError
      StoreError             the store cannot be opened or read
        SchemaTooNew         written by a newer datasnap than this reader knows
      KeyNotFound            no such dataset (LookupError too: a view's 404)
        DatasetDeleted       the dataset was soft-deleted (is_active false)
        VersionNotFound      no such version, or none yet (never fetched)
      CorruptRecord          a record does not decode or fails its SHA-256
"""


class DatasnapError(Exception):
    """Base class of everything datasnap_store raises."""


class StoreError(DatasnapError):
    """The store cannot be opened or read (missing file, permissions, not a
    datasnap store, used in a forked child)."""


class SchemaTooNew(StoreError):
    """The store's meta schema_version is newer than this reader supports."""

    def __init__(self, path, found, supported):
        self.path, self.found, self.supported = path, found, tuple(sorted(supported))
        super().__init__(
            f"store '{path}' has schema version {found}, newer than this "
            f"reader supports ({', '.join(map(str, self.supported))}); "
            f"upgrade datasnap_store (python/ of the datasnap that wrote it)")


class KeyNotFound(DatasnapError, LookupError):
    """No dataset of that key (nor an alias of one). `key` is what was asked
    for; `suggestion` the closest stored key or alias, or None."""

    def __init__(self, key, suggestion=None, message=None):
        self.key, self.suggestion = key, suggestion
        if message is None:
            message = f"no dataset '{key}'"
            if suggestion:
                message += f"; did you mean '{suggestion}'?"
            else:
                message += "; `datasnap list` shows the datasets in the store"
        super().__init__(message)

    def __str__(self):  # LookupError would quote the message like a key
        return self.args[0]


class DatasetDeleted(KeyNotFound):
    """The dataset exists but was soft-deleted (`datasnap delete`): it is
    hidden from lists and exports; its history stays readable."""

    def __init__(self, key):
        super().__init__(key, message=(
            f"dataset '{key}' was deleted (is_active false): it is hidden from "
            f"lists and exports; its versions stay readable with version() and "
            f"versions()"))


class VersionNotFound(KeyNotFound):
    """The dataset has no such version; `current` is its current version
    (0 while it has none)."""

    def __init__(self, key, version, current):
        self.version, self.current = version, current
        if current == 0:
            message = (f"dataset '{key}' has no options yet (never fetched); "
                       f"run `datasnap refresh` (or `import`) to store some")
            if version:
                message = f"dataset '{key}' has no version {version}: it has no versions yet"
        else:
            message = (f"dataset '{key}' has no version {version} "
                       f"(versions 1 to {current})")
        super().__init__(key, message=message)


class CorruptRecord(DatasnapError):
    """A stored record does not decode, or its options do not match their
    recorded SHA-256. `db` is the LMDB database, `key` the record's key
    (text), `reason` what is wrong. Nothing partial is returned."""

    def __init__(self, db, key, reason):
        self.db, self.key, self.reason = db, key, reason
        super().__init__(
            f"corrupt record in '{db}' at {key!r}: {reason}; the store is "
            f"damaged or was written by something other than datasnap "
            f"(check it with `datasnap show` / `mdb_dump`)")
