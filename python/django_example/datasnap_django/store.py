"""One datasnap_store.Store per process, opened on first use.

Opening lazily makes it fork-safe: with gunicorn's --preload (or any
pre-fork server) each worker opens its own environment after forking,
as LMDB requires. The Store is shared by the worker's threads.
"""
import os
import threading

from django.conf import settings

from datasnap_store import Store

_lock = threading.Lock()
_stores = {}  # (pid, path) -> Store


def store_path():
    return getattr(settings, "DATASNAP_STORE", None) or \
        os.environ.get("DATASNAP_STORE") or "datasnap.lmdb"


def get_store():
    """This process's Store of settings.DATASNAP_STORE."""
    key = (os.getpid(), os.path.abspath(store_path()))
    store = _stores.get(key)
    if store is None:
        with _lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = Store(key[1])
    return store
