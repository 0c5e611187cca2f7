"""Module 3's record on disk: candidates, alias state, policy, the champion's card, the audit log.

The notebook and the reference solution both end by calling ``write_registry_artifacts``, so
the grader reads the same files whoever trained the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_kit.io import atomic_write_json, atomic_write_text
from mlops_kit.registry.audit import AUDIT_LOG_FILE
from mlops_kit.registry.card import CARD_FILE
from mlops_kit.registry.lineage import CHAMPION
from mlops_kit.registry.policy import PromotionPolicy
from mlops_kit.registry.runs import RegisteredVersion
from mlops_kit.registry.versions import aliases, read_model_card, version_by_alias

if TYPE_CHECKING:
    from mlops_kit.registry.tracking import Tracking

CANDIDATES_FILE = "candidates.json"
ALIASES_FILE = "alias_state.json"
POLICY_FILE = "policy.json"


def write_registry_artifacts(
    out: str | Path,
    tracking: Tracking,
    model_name: str,
    policy: PromotionPolicy | None,
    registered: Sequence[RegisteredVersion],
) -> list[Path]:
    """Write the module's record: candidates, alias state, policy, champion card, audit log."""
    folder = Path(out)
    state = aliases(tracking, model_name) if registered else {}
    written = [
        atomic_write_json(
            folder / CANDIDATES_FILE,
            [
                {
                    "candidate": version.candidate,
                    "version": version.version,
                    "metrics": dict(version.metrics),
                    "lineage": dict(version.lineage),
                    "model_card": version.has_card,
                }
                for version in registered
            ],
        ),
        atomic_write_json(folder / ALIASES_FILE, {"model_name": model_name, "aliases": state}),
        atomic_write_json(folder / POLICY_FILE, policy.to_dict() if policy is not None else None),
    ]
    audit_log = folder / AUDIT_LOG_FILE
    if not audit_log.exists():
        written.append(atomic_write_text(audit_log, ""))
    card_path = folder / CARD_FILE
    card_path.unlink(missing_ok=True)
    if CHAMPION in state:
        card = read_model_card(tracking, version_by_alias(tracking, model_name, CHAMPION).run_id)
        if card is not None:
            written.append(atomic_write_text(card_path, card))
    return written
