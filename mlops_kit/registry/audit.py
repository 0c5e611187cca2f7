"""The audit trail of promotions: who decided, when, why, under which policy.

Each decision is written twice: as ``audit.*`` tags on the model version (the latest decision
about that version, visible in the MLflow UI next to the model) and as one line of a JSON-lines
log (the whole history, oldest first).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_kit.io import append_json_line, read_json_lines

AUDIT_PREFIX = "audit."
AUDIT_TAGS: tuple[str, ...] = tuple(
    AUDIT_PREFIX + name for name in ("decision", "alias", "by", "at", "why", "checks", "policy", "replaced")
)
AUDIT_LOG_FILE = "audit_log.jsonl"
ACTOR_ENV = "MLOPS_ACTOR"
APPROVED = "approved"
REFUSED = "refused"


def current_actor() -> str:
    """Who is acting: ``$MLOPS_ACTOR`` if set (CI sets it), else the login name."""
    actor = os.environ.get(ACTOR_ENV, "").strip()
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def utc_now() -> str:
    """The current UTC time as ISO 8601 with seconds (``2025-07-01T09:30:00Z``)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def audit_entry(
    decision: Mapping[str, Any], *, actor: str, reason: str, policy: Mapping[str, Any], at: str | None = None
) -> dict[str, Any]:
    """One audit record: the decision (``PromotionDecision.to_dict()``) with who, when, why, policy."""
    return {
        "at": at or utc_now(),
        "by": actor,
        "why": reason,
        "decision": APPROVED if decision["approved"] else REFUSED,
        "model_name": decision["model_name"],
        "version": decision["version"],
        "alias": decision["alias"],
        "replaced": decision["champion_version"] if decision["approved"] else None,
        "metric": decision["metric"],
        "value": decision["value"],
        "checks": decision["checks"],
        "policy": dict(policy),
    }


def audit_tags(entry: Mapping[str, Any]) -> dict[str, str]:
    """The ``audit.*`` version tags for one audit record."""
    checks = "; ".join(f"{'pass' if check['passed'] else 'FAIL'}: {check['detail']}" for check in entry["checks"])
    return {
        f"{AUDIT_PREFIX}decision": entry["decision"],
        f"{AUDIT_PREFIX}alias": entry["alias"],
        f"{AUDIT_PREFIX}by": entry["by"],
        f"{AUDIT_PREFIX}at": entry["at"],
        f"{AUDIT_PREFIX}why": entry["why"],
        f"{AUDIT_PREFIX}checks": checks,
        f"{AUDIT_PREFIX}policy": json.dumps(entry["policy"], sort_keys=True, separators=(",", ":")),
        f"{AUDIT_PREFIX}replaced": str(entry["replaced"]) if entry["replaced"] else "none",
    }


def append_audit_log(path: str | Path, entry: Mapping[str, Any]) -> Path:
    """Append one record to the JSON-lines audit log."""
    return append_json_line(path, dict(entry))


def read_audit_log(path: str | Path) -> list[dict[str, Any]]:
    """Every record of an audit log, oldest first (empty when the file does not exist)."""
    return read_json_lines(path)
