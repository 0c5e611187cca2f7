"""The environment is pinned once (requirements.lock) and everything else agrees with it."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pins[_normal(name)] = version
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_pins_the_lock_versions() -> None:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies
    pip_section = next(item["pip"] for item in dependencies if isinstance(item, dict))
    conda_pins = {_normal(pin.split("==")[0]): pin.split("==")[1] for pin in pip_section}
    lock = _lock_pins()
    differ = {
        name: (conda_pins.get(name), lock.get(name))
        for name in set(conda_pins) | set(lock)
        if conda_pins.get(name) != lock.get(name)
    }
    assert not differ, f"environment.yml and requirements.lock disagree (yml, lock): {differ}; run `make lock`"


def test_pins_that_matter() -> None:
    lock = _lock_pins()
    assert lock["pandas"].startswith("3.0."), "evidently 0.7.23 does not import with pandas 3.1"
    assert lock["mlflow"].startswith("3.17."), "mlflow 3.18.0 cannot be installed from this index"
    assert lock["mlflow-skinny"] == lock["mlflow"]
    assert lock["evidently"] == "0.7.23"
    assert lock["nbval"].startswith("0.11.") and lock["pytest"].startswith("9.2."), "nbval and pytest move together"


def test_installed_environment_matches_the_lock() -> None:
    lock = _lock_pins()
    wrong = {}
    for name, version in lock.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (installed, version)
    assert not wrong, f"installed vs locked: {wrong}; remove .venv and run `make test` to rebuild it"


# Installed besides the lock: the venv's own seed packages and the course itself (editable).
NOT_IN_LOCK = {"pip", "setuptools", "mlops-in-seven-projects"}


def test_nothing_installed_beyond_the_lock() -> None:
    installed = {_normal(dist.metadata["Name"]) for dist in metadata.distributions()}
    extra = installed - set(_lock_pins()) - NOT_IN_LOCK
    assert not extra, f"installed but not in requirements.lock: {sorted(extra)}; remove .venv and run `make env`"


def test_installed_packages_carry_their_bytecode() -> None:
    """Set-up compiles the environment's bytecode, so no process compiles mlflow or pandas on import."""
    import importlib.util

    missing = []
    for name in ("mlflow", "sklearn", "pandas", "skops", "evidently", "fastapi"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        if not Path(importlib.util.cache_from_source(spec.origin)).is_file():
            missing.append(name)
    assert not missing, f"no .pyc for {missing}: make env must install with uv pip sync --compile-bytecode"
