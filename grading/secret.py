"""The instructor's grading secret: it keys the seed of every graded data variant.

Order of precedence: ``--secret-file PATH`` (a file outside the course repository), the
environment variable ``COURSE_GRADING_SECRET``, then ``DEFAULT_SECRET``. The default is
public (it is written here), so it suits self-grading only: anyone can rebuild data graded
with it. The secret itself never reaches a kernel, a scorecard or a gradebook; they name only
its source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grading.paths import REPO_ROOT

SECRET_ENV = "COURSE_GRADING_SECRET"
DEFAULT_SECRET = "mlops-in-seven-projects: public self-grading secret"
MAX_SECRET_FILE_BYTES = 4096


class SecretError(ValueError):
    """The grading secret cannot be used (missing file, empty, inside the repository...)."""


@dataclass(frozen=True)
class GradingSecret:
    """A secret and where it came from; ``repr`` and ``source`` never show the value."""

    value: str = field(repr=False)
    source: str

    @property
    def is_default(self) -> bool:
        """True for the public default: fine for self-grading, not for a graded cohort."""
        return self.value == DEFAULT_SECRET


def resolve_secret(secret_file: Path | None = None, environ: dict[str, str] | None = None) -> GradingSecret:
    """The secret to grade with: from ``secret_file``, else ``$COURSE_GRADING_SECRET``, else the default."""
    import os

    environ = dict(os.environ) if environ is None else environ
    if secret_file is not None:
        return GradingSecret(_read_secret_file(Path(secret_file)), f"file {Path(secret_file).name}")
    if environ.get(SECRET_ENV, "").strip():
        return GradingSecret(environ[SECRET_ENV].strip(), f"environment variable {SECRET_ENV}")
    return GradingSecret(DEFAULT_SECRET, "default (public: self-grading only)")


def _read_secret_file(path: Path) -> str:
    resolved = path.expanduser().resolve()
    if resolved.is_relative_to(REPO_ROOT):
        raise SecretError(f"--secret-file {path} is inside the course repository, where notebooks can read it")
    if not resolved.is_file():
        raise SecretError(f"--secret-file {path} does not exist")
    if resolved.stat().st_size > MAX_SECRET_FILE_BYTES:
        raise SecretError(f"--secret-file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
    value = resolved.read_text(encoding="utf-8").strip()
    if not value:
        raise SecretError(f"--secret-file {path} is empty")
    return value
