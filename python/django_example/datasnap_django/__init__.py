"""datasnap_django: a small Django app over datasnap_store, as an example
(python/README.md): a JSON view with ETag and 304s, a ChoiceField filled
from the store, and template tags. Settings: DATASNAP_STORE (the store's
path; default: the DATASNAP_STORE environment variable, then
./datasnap.lmdb) and DATASNAP_ORG_FOR_REQUEST (a dotted path to a function
request -> organisation key or None; default: none, global lists only).
"""
