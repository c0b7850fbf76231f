"""GET /datasets/<key>/options.json: the current options of a dataset.

    {"key":"smoking_status_code","version":3,"options_sha256":"9f2c…",
     "options":[{"value":"1","label":"Current smoker"}, …]}

ETag is the options' SHA-256 (strong), so `If-None-Match` gets a 304
without reading the options; Cache-Control: no-cache makes clients and
proxies revalidate, which costs a 304 while nothing changed. The options
go out as the store's canonical bytes (never decoded and re-encoded), and
the ETag of a 200 comes from the same read transaction as its body.
Organisation lists are served only to their organisation
(DATASNAP_ORG_FOR_REQUEST); deleted datasets are 404.
"""
import json
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import quote_etag
from django.utils.module_loading import import_string
from django.views.decorators.http import require_safe

from datasnap_django.store import get_store
from datasnap_store import CorruptRecord, KeyNotFound, StoreError

log = logging.getLogger(__name__)


def org_for_request(request):
    """The organisation whose lists `request` may read, or None."""
    path = getattr(settings, "DATASNAP_ORG_FOR_REQUEST", None)
    return import_string(path)(request) if path else None


def _error(status, message):
    response = JsonResponse({"error": message}, status=status)
    patch_cache_control(response, no_cache=True)
    return response


@require_safe
def dataset_options(request, key):
    org = org_for_request(request)
    store = get_store()
    try:
        dataset = store.dataset(key)
        if not dataset.visible_to(org) or not dataset.is_active:
            # Say nothing about other organisations' lists, not even a suggestion.
            return _error(404, f"no dataset '{key}'")
        if dataset.version == 0:
            return _error(404, f"dataset '{dataset.key}' has no options yet")
        etag = quote_etag(dataset.options_sha256)
        not_modified = get_conditional_response(request, etag=etag)
        if not_modified is not None:
            not_modified["ETag"] = etag  # RFC 7232 4.1: a 304 repeats it
            patch_cache_control(not_modified, no_cache=True)
            return not_modified
        snap = store.options_json(dataset.key)
    except KeyNotFound:  # also a dataset deleted or emptied meanwhile
        return _error(404, f"no dataset '{key}'")
    except CorruptRecord as e:
        log.error("datasnap store: %s", e)
        return _error(500, "the dataset could not be read (corrupt record; see the log)")
    except StoreError as e:
        log.error("datasnap store: %s", e)
        return _error(503, "the dataset store is unavailable")
    body = b"".join((b'{"key":', json.dumps(snap.key).encode(), b',"version":',
                     str(snap.version).encode(), b',"options_sha256":"',
                     snap.sha256.encode(), b'","options":', snap.json, b"}"))
    response = HttpResponse(body, content_type="application/json")
    response["ETag"] = quote_etag(snap.sha256)
    patch_cache_control(response, no_cache=True)
    return response
