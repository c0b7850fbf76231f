#!/bin/sh
# Runs python/tests with Debian's pytest, lmdb and django (python3-pytest,
# python3-lmdb, python3-django); a python3 earlier on PATH (pyenv, a venv)
# may lack them. Arguments: the datasnap binary, the fake upstream.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
DATASNAP=$1 FAKE_UPSTREAM=$2 UPSTREAM_ROOT=tests/fixtures/upstream
export DATASNAP FAKE_UPSTREAM UPSTREAM_ROOT
shift 2
exec /usr/bin/python3 -m pytest -p no:cacheprovider -q -W "ignore::DeprecationWarning:django\..*" \
  --basetemp="${TEST_TMPDIR:-/tmp}/pytest" "$here/tests" "$@"
