"""Module 6, training/serving consistency: catch the skew between the offline pipeline and the live service.

Typical use::

    services = start_services(tracking.uri, "late-delivery", version, SkewSpec.from_scenario(ledger_skew))
    sides = compare_sides(model, services["skewed"].url, orders, dictionary)
    report = consistency_report("before the fix", parity_checks(sides, dictionary, 0.5),
                                [schema_check(...), environment_check(...)], split_and_leakage_checks(train, valid, dictionary))
    report.write(out, "consistency_before")                  # JSON + HTML, a verdict per check

One job per file: ``tolerance`` (when two values are the same, per dtype), ``parity`` (join by
key; feature and prediction parity), ``live`` (the offline side in-process, the served side over
HTTP), ``schema`` (dictionary vs signature vs OpenAPI), ``environment`` (package versions),
``leakage`` (split and label leakage), ``report`` (verdicts, JSON + HTML), ``check`` (the run),
``reference`` (where the module starts, the two services).
"""

from mlops_kit.consistency.check import (
    Sides,
    compare_services,
    compare_sides,
    consistency_report,
    environment_check,
    parity_checks,
    registered_signature,
    schema_check,
    split_and_leakage_checks,
)
from mlops_kit.consistency.environment import PACKAGES_THAT_MATTER, environment_parity
from mlops_kit.consistency.leakage import LEAK_AUC, label_leaks, leakage_check, split_checks, split_violations
from mlops_kit.consistency.live import CHUNK_ROWS, ServiceCallError, Side, offline_side, service_json, serving_side
from mlops_kit.consistency.parity import (
    PROBABILITY_TOLERANCE,
    ParityError,
    distribution_skew,
    feature_parity,
    prediction_parity,
)
from mlops_kit.consistency.report import Check, ConsistencyReport, report_html
from mlops_kit.consistency.schema import (
    compare_schemas,
    dictionary_columns,
    openapi_columns,
    schema_parity,
    signature_columns,
)
from mlops_kit.consistency.tolerance import DEFAULT_TOLERANCES, Tolerance, tolerances_for, values_match

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_TOLERANCES",
    "LEAK_AUC",
    "PACKAGES_THAT_MATTER",
    "PROBABILITY_TOLERANCE",
    "Check",
    "ConsistencyReport",
    "ParityError",
    "ServiceCallError",
    "Side",
    "Sides",
    "Tolerance",
    "compare_schemas",
    "compare_services",
    "compare_sides",
    "consistency_report",
    "dictionary_columns",
    "distribution_skew",
    "environment_check",
    "environment_parity",
    "feature_parity",
    "label_leaks",
    "leakage_check",
    "offline_side",
    "openapi_columns",
    "parity_checks",
    "prediction_parity",
    "registered_signature",
    "report_html",
    "schema_check",
    "schema_parity",
    "service_json",
    "serving_side",
    "signature_columns",
    "split_and_leakage_checks",
    "split_checks",
    "split_violations",
    "tolerances_for",
    "values_match",
]
