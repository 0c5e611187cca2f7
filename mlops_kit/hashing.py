"""Content hashes: of parameters (canonical JSON), of data (frames) and of code (source text).

Every hash is the first 16 hex characters of a sha256, like module 1's data version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
import math
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HASH_LENGTH = 16


class UnhashableError(TypeError):
    """A value that cannot be turned into canonical JSON (so it cannot be part of a cache key)."""


def digest(data: bytes) -> str:
    """First 16 hex characters of the sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()[:HASH_LENGTH]


def to_canonical(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON data with a single spelling, for hashing and for run records.

    Functions become their name and code version; objects with ``to_dict()`` their dict;
    timestamps ISO strings; paths POSIX strings. Anything else raises UnhashableError.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if isinstance(value, Mapping):
        keys = list(value)
        if not all(isinstance(key, str) for key in keys):
            raise UnhashableError(f"{where}: dict keys must be strings, got {[type(k).__name__ for k in keys]}")
        return {key: to_canonical(value[key], f"{where}.{key}") for key in sorted(keys)}
    if isinstance(value, (list, tuple)):
        return [to_canonical(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)):
        return {"callable": _qualified_name(value), "code_version": code_version(value)}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, (pd.DataFrame, pd.Series)):
        return to_canonical(to_dict(), where)
    raise UnhashableError(
        f"{where}: a {type(value).__name__} cannot be hashed; use numbers, strings, lists, dicts, "
        "timestamps, paths, functions or objects with to_dict()"
    )


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON of ``to_canonical(value)``: the same value always gives the same text."""
    return json.dumps(to_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_value(value: Any) -> str:
    """Hash of a JSON-like value (see ``to_canonical``)."""
    return digest(canonical_json(value).encode("utf-8"))


def frame_hash(frame: pd.DataFrame) -> str:
    """Hash of a DataFrame's content: column names, dtypes, index and every value.

    Stable across processes and file formats: a frame written to parquet and read back has
    the same hash.
    """
    header = json.dumps(
        {
            "columns": [str(column) for column in frame.columns],
            "dtypes": [str(dtype) for dtype in frame.dtypes],
            "index": [str(name) for name in frame.index.names],
            "rows": len(frame),
        },
        sort_keys=True,
    )
    if len(frame.columns):
        values = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    else:
        values = pd.util.hash_pandas_object(frame.index).to_numpy()
    return digest(header.encode("utf-8") + values.tobytes())


def output_hash(value: Any) -> str:
    """Hash of a stage output: a frame, a dict of frames, or JSON-like data."""
    if isinstance(value, pd.DataFrame):
        return frame_hash(value)
    if isinstance(value, Mapping) and value and all(isinstance(part, pd.DataFrame) for part in value.values()):
        return hash_value({"frames": {str(name): frame_hash(part) for name, part in value.items()}})
    return hash_value({"json": value})


def _qualified_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"


def _package_files(module: types.ModuleType) -> list[Path]:
    """The source files of a module, or every ``.py`` file of a package, sorted."""
    file = getattr(module, "__file__", None)
    if file is None:
        raise UnhashableError(f"module {module.__name__} has no source file to hash")
    path = Path(file)
    if path.name == "__init__.py":
        return sorted(path.parent.rglob("*.py"))
    return [path]


def _code_text(obj: Any) -> bytes:
    """What a code version hashes for one object: its source text (or compiled code as a fallback)."""
    if isinstance(obj, types.ModuleType):
        files = _package_files(obj)
        root = files[0].parent
        return b"".join(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0" for f in files)
    try:
        return inspect.getsource(obj).encode("utf-8")
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        if code is None:
            return _qualified_name(obj).encode("utf-8")  # a builtin: its name is all there is
        constants = repr(code.co_consts).encode() + repr(code.co_names).encode()
        return _qualified_name(obj).encode() + code.co_code + constants


def code_version(*objects: Any) -> str:
    """Hash of the source code of functions, classes, modules or packages (all .py files).

    Any edit of the source, comments included, gives a new version. A function whose source
    cannot be read (defined with ``exec``) falls back to its compiled code.
    """
    parts = [_qualified_name(obj).encode() + b"\0" + _code_text(obj) for obj in objects]
    return digest(b"\0\0".join(parts))
