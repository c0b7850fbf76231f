"""datasnap_store: read a datasnap LMDB store from Python (docs/STORE.md).

Standard library plus Debian's python3-lmdb. See python/README.md.

    from datasnap_store import Store, KeyNotFound
    store = Store("datasnap.lmdb")
    for o in store.options("smoking_status_code"):
        print(o.value, o.label)
"""
from datasnap_store.choices import flat_choices, grouped_choices, has_hierarchy
from datasnap_store.errors import (CorruptRecord, DatasetDeleted, DatasnapError,
                                   KeyNotFound, SchemaTooNew, StoreError,
                                   VersionNotFound)
from datasnap_store.records import (CATEGORIES, CODECS, CanonicalOptions, Dataset, Option,
                                     Provenance, Version, canonical_options_json)
from datasnap_store.store import Store

SUPPORTED_SCHEMA_VERSIONS = tuple(sorted(CODECS))

__all__ = [
    "CATEGORIES", "CanonicalOptions", "CorruptRecord", "Dataset", "DatasetDeleted",
    "DatasnapError", "KeyNotFound", "Option", "Provenance", "SchemaTooNew", "Store",
    "StoreError", "SUPPORTED_SCHEMA_VERSIONS", "Version", "VersionNotFound",
    "canonical_options_json", "flat_choices", "grouped_choices", "has_hierarchy",
]
