"""Content hashes for the pipeline: re-exported from ``mlops_kit.hashing``, where every stage can use them."""

from mlops_kit.hashing import (
    HASH_LENGTH,
    UnhashableError,
    canonical_json,
    code_version,
    digest,
    frame_hash,
    hash_value,
    output_hash,
    to_canonical,
)

__all__ = [
    "HASH_LENGTH",
    "UnhashableError",
    "canonical_json",
    "code_version",
    "digest",
    "frame_hash",
    "hash_value",
    "output_hash",
    "to_canonical",
]
