"""The grader's reference upstream: built once per graded data, copied into a sandbox elsewhere, and usable there.

A real build (module 2's and module 3's reference on the shipped data, MLflow on SQLite), then a copy at
another path with the build folder deleted: the notebook's own ``ensure_champion`` must accept the copy
as current (no rebuild: the registry keeps the reference's versions) and load the champion from it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grading.paths import REPO_ROOT
from grading.upstream import BUILT_AT, cache_key, reference_upstream, seed_sandbox
from mlops_kit.course import module_id
from mlops_kit.registry.reference import ensure_champion, reference_estimators
from mlops_kit.registry.tracking import connect
from mlops_kit.registry.versions import list_versions, load_model

pytestmark = pytest.mark.xdist_group("upstream")
DATA = REPO_ROOT / "datasets" / "v0" / "data"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reference_upstream(DATA, 0, tmp_path_factory.mktemp("cache"))


def test_the_build_is_made_once_per_data_and_keyed_by_it(upstream: Path, tmp_path: Path) -> None:
    assert (upstream / BUILT_AT).is_file() and upstream.name == cache_key(DATA)
    stamp = (upstream / BUILT_AT).stat().st_mtime_ns
    assert (
        reference_upstream(DATA, 0, upstream.parent) == upstream and (upstream / BUILT_AT).stat().st_mtime_ns == stamp
    )
    other = tmp_path / "data"
    shutil.copytree(DATA, other)
    (other / "manifest.json").write_text((other / "manifest.json").read_text() + " ")
    assert cache_key(other) != cache_key(DATA), "other data, other key"


def test_module_3_gets_only_module_2s_reference(upstream: Path, tmp_path: Path) -> None:
    assert seed_sandbox(upstream, tmp_path, 3) == [module_id(2)]
    assert sorted(path.name for path in tmp_path.iterdir()) == [module_id(2)]


def test_a_relocated_copy_stands_alone_and_the_notebook_does_not_rebuild_it(upstream: Path, tmp_path: Path) -> None:
    copy_of_cache = tmp_path / "cache-copy"
    shutil.copytree(upstream, copy_of_cache)
    artifacts = tmp_path / "sandbox" / "artifacts"
    artifacts.mkdir(parents=True)
    seeded = seed_sandbox(copy_of_cache, artifacts, 4)
    assert module_id(2) in seeded and module_id(3) in seeded and len(seeded) == 4
    built_at = (copy_of_cache / BUILT_AT).read_text()
    shutil.rmtree(copy_of_cache)
    leftovers = [
        str(path) for path in artifacts.rglob("*") if path.is_file() and built_at.encode() in path.read_bytes()
    ]
    assert not leftovers, f"files still naming the build folder: {leftovers}"
    champion = ensure_champion(artifacts, DATA, 0)
    versions = list_versions(connect(artifacts), champion.name)
    assert len(versions) == len(reference_estimators()), "ensure_champion found the copy current: nothing rebuilt"
    model = load_model(connect(artifacts), champion.name, version=champion.version)
    assert hasattr(model, "predict_proba")
