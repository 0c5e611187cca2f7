#!/usr/bin/env bash
# Re-resolve requirements.lock from requirements.in with uv (needs the package index), keeping
# the versions already locked where they still fit, then regenerate environment.yml from it.
set -euo pipefail
UV=${UV:-.venv/bin/uv}
[ -x "$UV" ] || { echo "lock: $UV not found; run make env first" >&2; exit 1; }
body=$(mktemp)
trap 'rm -f "$body"' EXIT
grep -v '^#' requirements.lock > "$body" || true   # current pins: uv keeps them as preferences
# rfc3987-syntax (and lark, its only user) comes with jsonschema's format-nongpl extra (jupyter-events asks
# for it) and compiles a grammar when imported: 1.3 s in every process that imports nbformat or papermill,
# the grader's and each graded module's among them. jsonschema only skips the "iri" formats without it.
"$UV" pip compile requirements.in --python-version 3.11 --no-header --no-annotate --quiet -o "$body" \
    --no-emit-package rfc3987-syntax --no-emit-package lark ${LOCK_ARGS:-}
{
    echo "# Pinned lock file: the single source of truth for the course environment."
    echo "# Regenerate: make lock (uv pip compile requirements.in; add LOCK_ARGS=--upgrade to move every pin)."
    echo "# environment.yml must pin the same versions (tests/test_environment.py checks)."
    cat "$body"
} > requirements.lock.new
mv requirements.lock.new requirements.lock
.venv/bin/python tools/write_environment_yml.py
echo "lock: requirements.lock ($(grep -c '==' requirements.lock) pins) and environment.yml updated"
