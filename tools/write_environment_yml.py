"""Write environment.yml (for conda users) from requirements.lock, so the two pin the same versions.

Usage: python tools/write_environment_yml.py   (run by `make lock`; tests/test_environment.py checks agreement)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def locked_pins(lock_path: Path) -> list[str]:
    """The ``name==version`` lines of the lock file, in file order."""
    lines = lock_path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def environment_yml(pins: list[str]) -> str:
    """A conda environment: Python 3.11 from conda, every locked package from pip at its pin."""
    body = "\n".join(f"      - {pin}" for pin in pins)
    return (
        "# Generated from requirements.lock by tools/write_environment_yml.py; do not edit by hand.\n"
        "# conda env create -f environment.yml && conda activate mlops-course && pip install --no-deps -e .\n"
        "name: mlops-course\n"
        "channels:\n  - conda-forge\n"
        "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
        f"{body}\n"
    )


if __name__ == "__main__":
    (ROOT / "environment.yml").write_text(environment_yml(locked_pins(ROOT / "requirements.lock")), encoding="utf-8")
    sys.exit(0)
