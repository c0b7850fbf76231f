#!/bin/sh
# Debian's python3 has yaml (python3-yaml); a python3 earlier on PATH may not.
exec /usr/bin/python3 "$(dirname "$0")/deploy_test.py" "$@"
