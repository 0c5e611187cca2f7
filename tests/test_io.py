"""Atomic writes and JSON-lines logs (notifications, audit trail) from mlops_kit.io."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlops_kit.io import append_json_line, atomic_write_text, read_json_lines


def test_json_lines_round_trip_and_missing_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "audit.jsonl"
    assert read_json_lines(log) == []
    append_json_line(log, {"b": 1, "a": "é"})
    append_json_line(log, {"c": [1, 2]})
    assert read_json_lines(log) == [{"a": "é", "b": 1}, {"c": [1, 2]}]
    assert log.read_text(encoding="utf-8").splitlines()[0] == '{"a": "é", "b": 1}'


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    log = tmp_path / "notifications.log"
    log.write_text('{"ok": 1}\n{"torn": ', encoding="utf-8")
    append_json_line(log, {"next": 2})
    assert log.read_text(encoding="utf-8").splitlines()[-1] == '{"next": 2}'
    with pytest.raises(ValueError, match=r"notifications\.log, line 2: not a JSON record"):
        read_json_lines(log)


def test_atomic_write_gives_a_normal_file_mode(tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    path = atomic_write_text(tmp_path / "report.json", "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
