# MLOps in Seven Projects. Two commands: `make run` and `make test`; both create the environment first.
SHELL := /bin/bash
PYTHON_BASE ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed
# Find the course kernel inside the venv before any stale user-level one.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export JUPYTER_PLATFORM_DIRS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: env run test lint format lab grade bench bench-setup release notebooks-check mlflow-ui lock clean site audit browser

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml tools/setup_env.sh
	@PYTHON_BASE=$(PYTHON_BASE) VENV=$(VENV) bash tools/setup_env.sh

run: env
	@echo "make run executes and grades the course's REFERENCE SOLUTIONS (solutions/), not your work: 'make grade' grades your workspace."
	$(PY) -m grading run solutions --out build/run
	$(PY) -m grading grade solutions --variant 0 --out build/grade-solutions
	@echo "These are the reference solutions' points. Your own: make grade (your notebooks in workspace/)."

NBVAL_DIR := build/nbval
# Three workers on this two-core machine: about a sixth of the suite waits on real time (rollouts, timeouts,
# services starting), which a third worker fills (same code, same hour: 399 s with two, 370 s with three).
TEST_WORKERS ?= 3
NBVAL := --nbval --nbval-sanitize-with grading/nbval_sanitize.cfg --nbval-cell-timeout 300

test: env lint
	@# nbval executes a copy of the solutions, so its artifacts never mix with a learner's artifacts/
	rm -rf $(NBVAL_DIR) && mkdir -p $(NBVAL_DIR) && cp -r solutions $(NBVAL_DIR)/ && ln -s ../../datasets $(NBVAL_DIR)/datasets
	@# One session on TEST_WORKERS workers: the test suite and nbval on the solutions. loadgroup keeps tests
	@# marked xdist_group on one worker (their fixtures are built once) and each notebook's cells together.
	@# The released notebooks are executed by the grading tests (unsolved: zero points, runs to the end).
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=20 $(NBVAL) tests $(NBVAL_DIR)/solutions

lint: env
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --check --quiet .

format: env
	$(VENV)/bin/ruff check --fix --quiet .
	$(VENV)/bin/ruff format --quiet .

# The learner's workspace: their own notebooks (copied from notebooks/ when missing, never overwritten)
# and, next to them, the artifacts the notebooks write (workspace/artifacts/).
LAB_WORKSPACE ?= workspace
lab: env
	@$(PY) -m grading.workspace --workspace $(LAB_WORKSPACE)
	$(VENV)/bin/jupyter lab $(LAB_WORKSPACE)/ --MappingKernelManager.default_kernel_name=mlops-course $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Grade YOUR workspace on a data variant you have not seen (a new one each time unless GRADE_VARIANT=N);
# MODULE=01_data_validation grades one module.
ifndef GRADE_VARIANT
GRADE_VARIANT := $(shell echo $$((RANDOM % 900 + 100)))
endif
grade: env
	@test -d workspace || { echo "no workspace yet: run 'make lab' first (it creates workspace/ with your notebooks)" >&2; exit 2; }
	@echo "grading your notebooks in workspace/ on data variant $(GRADE_VARIANT), one you have not seen"
	$(PY) -m grading grade workspace --variant $(GRADE_VARIANT) --out build/my-grade $(if $(MODULE),--module $(MODULE))

bench: env
	$(PY) -m grading.bench --out build/bench.json $(BENCH_ARGS)
	$(MAKE) --no-print-directory bench-setup

# Set-up from a fresh clone, uv against pip, empty and warm cache, medians of 3 (about half an hour: pip is slow).
bench-setup:
	$(PY) tools/bench_setup.py --runs 3 --out build/bench-setup.json

release: env
	$(PY) -m grading release

# The self-study site of the solved course (MkDocs + mkdocs-jupyter): build/site, from nothing, offline.
site: env
	$(PY) -m grading.site --out build/site

# The ML Test Score of your artifacts (ARTIFACTS=folder, default your workspace's) -> build/audit/
ARTIFACTS ?= workspace/artifacts
audit: env
	$(PY) -m grading audit $(ARTIFACTS) --out build/audit

# Debian's chromium for the browser tests (installed with apt-get when missing and run as root).
browser:
	@bash tools/install_chromium.sh

# The MLflow UI on your module 3 database (workspace/artifacts/mlflow.db), or DB=path/to/mlflow.db.
mlflow-ui: env
	@$(PY) -m grading.mlflow_ui $(if $(DB),--db $(DB))

# Re-resolve the lock from requirements.in with uv (needs the package index); LOCK_ARGS=--upgrade moves every pin.
lock: env
	@bash tools/lock.sh

clean:
	rm -rf build artifacts
