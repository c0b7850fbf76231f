#!/bin/sh
# Debian's python3 has the lmdb module (python3-lmdb); a python3 earlier on
# PATH (pyenv, a venv) may not.
exec /usr/bin/python3 "$(dirname "$0")/python_reader_test.py" "$@"
