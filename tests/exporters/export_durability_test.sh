#!/bin/sh
exec /usr/bin/python3 "$(dirname "$0")/export_durability_test.py" "$@"
