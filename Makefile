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

.PHONY: env run test lint format lab bench release notebooks-check mlflow-ui lock clean

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml tools/setup_env.sh
	@PYTHON_BASE=$(PYTHON_BASE) VENV=$(VENV) bash tools/setup_env.sh

run: env
	$(PY) -m grading run solutions --out build/run
	$(PY) -m grading grade solutions --variant 0 --out build/grade-solutions

NBVAL_DIR := build/nbval
NBVAL := $(PY) -m pytest --nbval-sanitize-with grading/nbval_sanitize.cfg --nbval-cell-timeout 300

test: env lint
	$(PY) -m pytest -n 2 --dist load
	@# nbval runs on a copy of the course tree, so its artifacts never mix with a learner's artifacts/
	rm -rf $(NBVAL_DIR) && mkdir -p $(NBVAL_DIR) && cp -r solutions notebooks $(NBVAL_DIR)/ && ln -s ../../datasets $(NBVAL_DIR)/datasets
	$(NBVAL) --nbval $(NBVAL_DIR)/solutions
	$(NBVAL) --nbval-lax $(NBVAL_DIR)/notebooks

lint: env
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --check --quiet .

format: env
	$(VENV)/bin/ruff check --fix --quiet .
	$(VENV)/bin/ruff format --quiet .

lab: env
	$(VENV)/bin/jupyter lab notebooks/ --MappingKernelManager.default_kernel_name=mlops-course $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: env
	$(PY) -m grading.bench --out build/bench.json $(BENCH_ARGS)

release: env
	$(PY) -m grading release

mlflow-ui: env
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///artifacts/mlflow.db --host 127.0.0.1

# Re-resolve the lock from requirements.in with uv (needs the package index); LOCK_ARGS=--upgrade moves every pin.
lock: env
	@bash tools/lock.sh

clean:
	rm -rf build artifacts
