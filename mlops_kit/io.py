"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _default_file_mode() -> int:
    """The mode a plain ``open()`` would give a new file under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, _FILE_MODE)  # mkstemp creates 0600; readers expect a normal file
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented, key-sorted JSON atomically (stable bytes for hashing)."""
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    return atomic_write_text(path, text)


def append_json_line(path: str | os.PathLike[str], record: Any) -> Path:
    """Append ``record`` as one key-sorted JSON line, in a single write, flushed to disk.

    One ``write`` per line means concurrent writers never interleave within a line; a file
    whose last line lacks its newline (a crash mid-write) gets one first, so the new record
    still starts on its own line.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    with open(target, "a+b") as handle:
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                line = "\n" + line
        handle.write(line.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    return target


def read_json_lines(path: str | os.PathLike[str]) -> list[Any]:
    """Every record of a JSON-lines file, oldest first; [] when it does not exist.

    A line that is not JSON raises ValueError naming the file and the line number.
    """
    target = Path(path)
    if not target.is_file():
        return []
    records = []
    for number, line in enumerate(target.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{target}, line {number}: not a JSON record ({error})") from error
    return records
