#!/usr/bin/env bash
# Build the course environment in .venv from requirements.lock (called by `make env`).
# uv (pinned, bootstrapped into .venv from the package index) installs the exact lock;
# where uv cannot be had, pip installs the same lock. Nothing is installed outside the repository.
set -euo pipefail
PYTHON_BASE=${PYTHON_BASE:-python3.11}
VENV=${VENV:-.venv}
UV_VERSION=$(sed -n "s/^uv==//p" requirements.lock)
PY="$VENV/bin/python"
QUIET=(--quiet --disable-pip-version-check)

fail() {
    echo "set-up failed: $1" >&2
    echo "  fix the cause above, then run the command again (a half-built .venv is removed first)" >&2
    exit 1
}
command -v "$PYTHON_BASE" >/dev/null || fail "$PYTHON_BASE not found; the course needs Python 3.11 (or: make PYTHON_BASE=/path/to/python3.11 ...)"

started=$SECONDS
rm -rf "$VENV"
echo "set-up: creating $VENV with $("$PYTHON_BASE" --version 2>&1)"
"$PYTHON_BASE" -m venv "$VENV" || fail "could not create $VENV"

installer=uv
if [ "${COURSE_INSTALLER:-uv}" != pip ] && "$PY" -m pip install "${QUIET[@]}" "uv==$UV_VERSION" 2>/dev/null; then
    echo "set-up: installing $(grep -c '==' requirements.lock) locked packages with uv $UV_VERSION"
    # --compile-bytecode: uv installs no .pyc by default, and where PYTHONDONTWRITEBYTECODE is set (CI images, the
    # grading sandbox) every process would compile mlflow, scikit-learn and pandas again: ~10 s per import of mlflow.
    "$VENV/bin/uv" pip sync --quiet --compile-bytecode --python "$PY" requirements.lock || fail "uv could not install requirements.lock"
    "$VENV/bin/uv" pip install --quiet --python "$PY" --no-deps -e . || fail "uv could not install the course (pip install -e .)"
else
    installer=pip
    echo "set-up: uv not available, installing with pip instead (slower, same lock)"
    "$PY" -m pip install "${QUIET[@]}" --no-deps -r requirements.lock || fail "pip could not install requirements.lock"
    "$PY" -m pip install "${QUIET[@]}" --no-deps -e . || fail "pip could not install the course (pip install -e .)"
fi
"$PY" tools/install_kernel.py >/dev/null || fail "could not register the course's Jupyter kernel"
"$PY" -m pip check >/dev/null || { "$PY" -m pip check >&2; fail "the installed packages are inconsistent"; }
echo "$installer" > "$VENV/.course-installed"
echo "set-up: done in $((SECONDS - started)) s with $installer (.venv, kernel 'MLOps course (Python 3.11)')"
