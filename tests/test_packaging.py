"""mlops_kit is a real package: declared dependencies the lock satisfies, and a wheel that works on its own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mlops_kit.features import load_feature_dictionary

REPO = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")
PACKAGED_FOLDERS = ("mlops_kit", "grading")


def locked_versions() -> dict[str, str]:
    """``name → version`` of every pin in requirements.lock (names canonicalised)."""
    pins: dict[str, str] = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;#]+).*", line.strip())
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def declared_requirements() -> list[Requirement]:
    """Every dependency pyproject.toml declares, optional ones included."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = [*project["dependencies"], *(dep for group in project["optional-dependencies"].values() for dep in group)]
    return [Requirement(text) for text in texts]


def test_the_lock_satisfies_every_declared_dependency() -> None:
    pins = locked_versions()
    requirements = declared_requirements()
    assert requirements, "pyproject.toml declares no dependencies"
    problems = []
    for requirement in requirements:
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement} is not pinned in requirements.lock")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement}: requirements.lock pins {pinned}, outside the declared range")
    assert not problems, "\n".join(problems)


def test_every_third_party_import_of_mlops_kit_is_declared() -> None:
    """A module mlops_kit imports at run time must come from a declared dependency (or the standard library)."""
    import importlib.metadata as metadata

    declared = {canonicalize_name(requirement.name) for requirement in declared_requirements()}
    providers = metadata.packages_distributions()
    pattern = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", re.MULTILINE)
    imported = {
        name
        for path in (REPO / "mlops_kit").rglob("*.py")
        for name in pattern.findall(path.read_text(encoding="utf-8"))
    }
    undeclared = sorted(
        f"{name} (from {', '.join(providers[name])})"
        for name in imported
        if name in providers and name != "mlops_kit" and not declared & {canonicalize_name(p) for p in providers[name]}
    )
    assert not undeclared, "declare these in pyproject.toml [project] dependencies: " + ", ".join(undeclared)


CHECK_INSTALLED = """
import json, sys
from pathlib import Path
import mlops_kit
from mlops_kit.dictionary import load_feature_dictionary  # the light import: features adds scikit-learn
from mlops_kit.data import SHIPPED_DATA_DIR, load_orders, shipped_data_dir
manifest = json.loads((shipped_data_dir() / "manifest.json").read_text())
print(json.dumps({
    "package": mlops_kit.__file__,
    "features": load_feature_dictionary().feature_names,
    "data_dir": str(SHIPPED_DATA_DIR),
    "rows": len(load_orders(SHIPPED_DATA_DIR)),
    "sha256": {name: entry["sha256"] for name, entry in manifest["files"].items()},
}))
"""


@pytest.mark.packaging
@pytest.mark.xdist_group("packaging")
def test_a_built_wheel_works_in_a_fresh_environment(tmp_path: Path) -> None:
    """Build the wheel, install it (dependencies from uv's cache, offline) into a new venv, use it outside the repo."""
    wheels = tmp_path / "wheels"
    (tmp_path / "tmp").mkdir()
    # TMPDIR: uv's build-backend locks stay here, not in /tmp after every run
    env = {**os.environ, "UV_OFFLINE": "1", "XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(tmp_path / "tmp")}
    env["UV_CACHE_DIR"] = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    env.pop("VIRTUAL_ENV", None)
    source = tmp_path / "source"  # a copy: setuptools writes build/ and *.egg-info next to the sources
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in PACKAGED_FOLDERS:
        shutil.copytree(REPO / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    build = [str(UV), "build", "--wheel", "--quiet", "--out-dir", str(wheels), str(source)]
    subprocess.run(build, check=True, cwd=tmp_path, env=env, timeout=300, capture_output=True)
    (wheel,) = wheels.glob("*.whl")
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run(
        [str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env, timeout=120
    )
    install = [str(UV), "pip", "install", "--quiet", "--python", str(python), "-c", str(REPO / "requirements.lock")]
    subprocess.run([*install, str(wheel)], check=True, env=env, timeout=300, capture_output=True)
    done = subprocess.run(
        [str(python), "-c", CHECK_INSTALLED], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(facts["package"]).is_relative_to(venv), f"imported the repository's copy: {facts['package']}"
    assert facts["features"] == load_feature_dictionary().feature_names
    assert Path(facts["data_dir"]).is_relative_to(tmp_path / "cache"), "the installed package read the repository"
    shipped = json.loads((REPO / "datasets" / "v0" / "data" / "manifest.json").read_text())
    assert facts["sha256"] == {name: entry["sha256"] for name, entry in shipped["files"].items()}
    assert facts["rows"] == shipped["files"]["reference.csv"]["rows"]
