"""Module 1, data validation & cleaning: raw orders in; clean rows, quarantine, report out.

Typical use::

    rules = reference_rules(cutoff=pd.Timestamp("2025-08-01"))
    result = validate(load_orders(data_dir, "2025-07"), rules, source="2025-07")
    write_validation_artifacts(result, out_dir)

One job per file: ``parse`` (cell types), ``schema`` (pandera, from the domain), ``policy``
(missing values), ``outliers``, ``checks`` (custom row checks), ``rules``, ``quarantine``,
``version`` (data version hash), ``report``, ``artifacts``, and ``validator`` tying them up.
"""

from mlops_kit.validation.artifacts import write_validation_artifacts
from mlops_kit.validation.checks import RowCheck
from mlops_kit.validation.defects import DEFECT_KINDS, MISSING_IMPUTABLE
from mlops_kit.validation.errors import ValidationInputError
from mlops_kit.validation.outliers import OutlierRule
from mlops_kit.validation.policy import Impute, Reject
from mlops_kit.validation.result import ValidationResult
from mlops_kit.validation.rules import ValidationRules, reference_rules
from mlops_kit.validation.schema import order_schema
from mlops_kit.validation.validator import validate
from mlops_kit.validation.version import canonical_csv_bytes, data_version, read_clean

__all__ = [
    "DEFECT_KINDS",
    "MISSING_IMPUTABLE",
    "Impute",
    "OutlierRule",
    "Reject",
    "RowCheck",
    "ValidationInputError",
    "ValidationResult",
    "ValidationRules",
    "canonical_csv_bytes",
    "data_version",
    "order_schema",
    "read_clean",
    "reference_rules",
    "validate",
    "write_validation_artifacts",
]
