#!/bin/sh
# Debian's python3 (a python3 earlier on PATH may lack nothing here, but
# the test means the system's); nginx and openssl come from tools/dev.
exec /usr/bin/python3 "$(dirname "$0")/http2_nginx_test.py" "$@"
