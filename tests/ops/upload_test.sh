#!/bin/sh
# Debian's python3 (the standard library only) drives datasnap and s3rver.
exec /usr/bin/python3 "$(dirname "$0")/upload_test.py" "$@"
