"""Secret variants: the graded data depend on the instructor's secret, which never leaves the grader."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading.paths import REPO_ROOT
from grading.secret import DEFAULT_SECRET, SECRET_ENV, SecretError, resolve_secret
from mlops_kit.datagen import DATA_FOLDER, LEDGER_FOLDER, ensure_variant, generate_variant
from mlops_kit.manifest import read_manifest


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_the_secret_changes_data_and_ledger_but_not_their_shape(tmp_path: Path) -> None:
    public = generate_variant(3, tmp_path / "public")
    keyed = generate_variant(3, tmp_path / "keyed", secret="s3cret")
    again = generate_variant(3, tmp_path / "again", secret="s3cret")
    other = generate_variant(3, tmp_path / "other", secret="another")
    assert _files(keyed) == _files(again)
    for folder in (public, other):
        assert sorted(_files(folder)) == sorted(_files(keyed))
        differing = [name for name, data in _files(folder).items() if data != _files(keyed)[name]]
        assert len(differing) == len(_files(keyed)), "every file, data and ledger, must differ"
    assert read_manifest(keyed / DATA_FOLDER)["variant"] == 3  # the label is public, the seed is not
    assert "s3cret" not in "".join(data.decode() for data in _files(keyed).values())


def test_data_without_ledger_is_the_same_data(tmp_path: Path) -> None:
    full = generate_variant(4, tmp_path / "full", secret="k")
    data_only = generate_variant(4, tmp_path / "data", secret="k", ledger=False)
    assert not (data_only / LEDGER_FOLDER).exists()
    assert _files(data_only / DATA_FOLDER) == _files(full / DATA_FOLDER)


def test_cached_variants_are_kept_apart_by_secret(tmp_path: Path) -> None:
    first = ensure_variant(2, tmp_path, secret="a")
    second = ensure_variant(2, tmp_path, secret="b")
    public = ensure_variant(2, tmp_path)
    assert len({first, second, public}) == 3 and "a" not in first.name.split("-")[0]
    assert _files(first) != _files(second)


def test_secret_precedence_file_then_environment_then_default(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("from-file\n")
    assert resolve_secret(secret_file, {SECRET_ENV: "from-env"}).value == "from-file"
    from_env = resolve_secret(None, {SECRET_ENV: "from-env"})
    assert from_env.value == "from-env" and SECRET_ENV in from_env.source and "from-env" not in repr(from_env)
    default = resolve_secret(None, {})
    assert default.value == DEFAULT_SECRET and default.is_default and "public" in default.source


@pytest.mark.parametrize(
    ("content", "where", "problem"),
    [("", "outside", "is empty"), ("x", "repo", "inside the course repository"), (None, "outside", "does not exist")],
)
def test_unusable_secret_files_are_refused(tmp_path: Path, content: str | None, where: str, problem: str) -> None:
    path = (REPO_ROOT if where == "repo" else tmp_path) / "grading-secret.txt"
    if content is not None and where == "outside":
        path.write_text(content)
    with pytest.raises(SecretError, match=problem):
        resolve_secret(path, {})
