#!/bin/sh
# Debian's python3 has jsonschema (python3-jsonschema); a python3 earlier
# on PATH (pyenv, a venv) may not.
exec /usr/bin/python3 "$(dirname "$0")/run_report_test.py" "$@"
