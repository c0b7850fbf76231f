#!/bin/sh
# Debian's python3 has jsonschema and django (python3-jsonschema,
# python3-django); a python3 earlier on PATH (pyenv, a venv) may not.
exec /usr/bin/python3 "$(dirname "$0")/export_validation_test.py" "$@"
