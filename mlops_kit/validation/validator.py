"""``validate``: raw orders in; clean rows, quarantined rows, a report and a data version out.

The order of work: check the input, parse every cell, run the pandera schema lazily on the
typed frame (the domain's checks and the rules' column checks), apply outlier rules and row checks, quarantine every row with a reason, then
fill the allowed gaps of the clean rows from their own valid values.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_kit.domain import RAW_COLUMNS
from mlops_kit.validation.checks import (
    SkippedCheck,
    declared_column_checks,
    run_row_check,
    skipped_column_checks,
)
from mlops_kit.validation.defects import (
    IMPOSSIBLE_VALUE,
    MISSING_IMPUTABLE,
    MISSING_REQUIRED,
    WRONG_TYPE,
    Finding,
    failing_rows,
    merge_findings,
)
from mlops_kit.validation.inputs import check_raw_frame
from mlops_kit.validation.outliers import outlier_finding
from mlops_kit.validation.parse import PARSED_KINDS, ParsedFrame, parse_frame
from mlops_kit.validation.policy import fill_values, impute, imputed_columns
from mlops_kit.validation.quarantine import quarantine_frame, row_reasons
from mlops_kit.validation.report import build_report
from mlops_kit.validation.result import ValidationResult
from mlops_kit.validation.rules import ValidationRules, check_rules
from mlops_kit.validation.schema import order_schema, schema_findings, with_column_checks
from mlops_kit.validation.version import SOURCE_ROW, data_version


def validate(raw: pd.DataFrame, rules: ValidationRules, source: str = "<frame>") -> ValidationResult:
    """Validate raw orders against the domain and ``rules``; bad rows go to quarantine.

    Raises ValidationInputError for unusable input (not a frame, no rows, wrong columns,
    rules naming unknown columns or impossible actions, a row check returning garbage).
    """
    check_raw_frame(raw)
    check_rules(rules)
    parsed = parse_frame(raw.rename_axis(SOURCE_ROW))
    findings, skipped = _findings(parsed, rules)
    fills = fill_values(parsed.typed, parsed.missing, ~failing_rows(findings, parsed.typed.index), rules.missing_policy)
    findings = merge_findings([*findings, *_unfillable(parsed, findings, fills)])
    reasons = row_reasons(findings, parsed.typed.index)
    clean, imputations = impute(parsed.typed.loc[reasons.eq("")], fills, rules.missing_policy)
    version = data_version(clean)
    report = build_report(
        source=str(source),
        text=parsed.text,
        missing=parsed.missing,
        findings=findings,
        imputations=imputations,
        skipped=skipped,
        rows_clean=len(clean),
        version=version,
    )
    return ValidationResult(clean, quarantine_frame(parsed.text, reasons), report, version)


def _findings(parsed: ParsedFrame, rules: ValidationRules) -> tuple[list[Finding], list[SkippedCheck]]:
    """Every check's finding, merged and in check order, and the row checks that were skipped."""
    imputed = imputed_columns(rules.missing_policy)
    findings = [
        Finding(WRONG_TYPE, column.name, parsed.wrong_type[column.name])
        for column in RAW_COLUMNS
        if column.kind in PARSED_KINDS
    ]
    findings += [Finding(MISSING_IMPUTABLE, name, parsed.missing[name]) for name in imputed]
    schema = with_column_checks(order_schema(nullable=imputed), declared_column_checks(rules.column_checks))
    findings += schema_findings(parsed.typed, schema, parsed.wrong_type)
    impossible = {finding.column: finding.failed for finding in findings if finding.defect == IMPOSSIBLE_VALUE}
    no_rows = pd.Series(False, index=parsed.typed.index)
    findings += [
        outlier_finding(parsed.typed, rule, impossible.get(rule.column, no_rows)) for rule in rules.outlier_rules
    ]
    outcomes = [run_row_check(check, parsed.typed) for check in rules.row_checks]
    findings += [outcome for outcome in outcomes if isinstance(outcome, Finding)]
    skipped = skipped_column_checks(rules.column_checks)
    return merge_findings(findings), skipped + [outcome for outcome in outcomes if isinstance(outcome, SkippedCheck)]


def _unfillable(parsed: ParsedFrame, findings: list[Finding], fills: dict[str, Any]) -> list[Finding]:
    """Gaps in clean rows of an imputed column with no fill value (nothing valid to learn it from)."""
    clean = ~failing_rows(findings, parsed.typed.index)
    gaps = [
        Finding(MISSING_REQUIRED, name, parsed.missing[name] & clean) for name, value in fills.items() if value is None
    ]
    return [finding for finding in gaps if finding.count]
