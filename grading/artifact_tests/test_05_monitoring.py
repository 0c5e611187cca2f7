"""Artifact checks for module 5 (monitoring & alerting).

Expected values come from the graded variant: its drift ledger (which months drift in which
inputs), its production batches validated with module 1's reference rules (the orders the replay
had to send, and their labels), the MLflow database read with MLflow's own client, and Evidently's
stat tests run here on the same windows with the course's pinned methods. The prediction log is read line by
line with ``json``, not with the code under test. Integrity (manifest, variant) and the drift JSON
agreeing with Evidently are preconditions, not sources of points.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from grading.artifact_tests.shared import fail, read_artifact_json, require_manifest, rows_text
from mlops_kit.course import module_id
from mlops_kit.registry.tracking import DEFAULT_MODEL_NAME

MODULE = module_id(5)
REQUIRED_FILES = ("alerts.json", "rules.yaml", "replay.json", "dashboard.html")
NUMERICAL = ("distance_km", "prep_time_min", "basket_size")
CATEGORICAL = ("city_zone", "weather", "vehicle")
PINNED = {"numerical": ("wasserstein", 0.1), "categorical": ("jensenshannon", 0.1)}
SCORE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Module5:
    folder: Path
    manifest: dict[str, Any]

    def json(self, name: str) -> Any:
        return read_artifact_json(self.folder, name)


@pytest.fixture(scope="session")
def m5(artifacts_dir: Path, variant: int) -> Module5:
    return Module5(artifacts_dir / MODULE, require_manifest(artifacts_dir, MODULE, variant, REQUIRED_FILES))


@pytest.fixture(scope="session")
def clean(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Reference period and each production month, validated with module 1's reference rules."""
    from mlops_kit.data import file_period, list_batches, load_orders
    from mlops_kit.validation import reference_rules, validate

    frames = {}
    for name in ("reference", *list_batches(data_dir)):
        _, cutoff = file_period(data_dir, name)
        frames[name] = validate(load_orders(data_dir, name), reference_rules(cutoff), source=name).clean
    return frames


@pytest.fixture(scope="session")
def ledger(variant_dir: Path, clean: dict[str, pd.DataFrame]) -> dict[str, set[str]]:
    """Month -> the inputs the variant's drift ledger says drift then (every production month listed)."""
    from mlops_kit.datagen import read_drift_ledger

    drift = read_drift_ledger(variant_dir)
    months: dict[str, set[str]] = {month: set() for month in clean if month != "reference"}
    for month, columns in zip(drift["month"], drift["columns"], strict=True):
        months.setdefault(month, set()).update(c for c in columns.split(";") if c in NUMERICAL + CATEGORICAL)
    return months


@pytest.fixture(scope="session")
def drift_checked(m5: Module5, clean: dict[str, pd.DataFrame]) -> dict[str, dict[str, float]]:
    """Precondition: a drift JSON per month whose input scores agree with Evidently run here."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import numpy as np
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.core import ColumnType

    def finite(column: pd.Series) -> pd.Series:
        return column.replace([-np.inf, np.inf], np.nan).dropna()

    def scores(current: pd.DataFrame) -> dict[str, float]:
        """Evidently's own stat test per input, as its ValueDrift metric calls it (same cleaning, same types);
        the metric itself would also draw its widgets, 15x the time for the same numbers."""
        found = {}
        for kind, names in (("numerical", NUMERICAL), ("categorical", CATEGORICAL)):
            column_type = ColumnType.Numerical if kind == "numerical" else ColumnType.Categorical
            method, threshold = PINNED[kind]
            for name in names:
                as_type = "float64" if kind == "numerical" else str
                before = finite(clean["reference"][name].astype(as_type))
                now = finite(current[name].astype(as_type))
                test = get_stattest(before, now, column_type, method)
                found[name] = float(test(before, now, column_type, threshold).drift_score)
        return found

    mine: dict[str, dict[str, float]] = {}
    for month in (name for name in clean if name != "reference"):
        summary = m5.json(f"drift/drift_{month}.json")
        if not (m5.folder / "drift" / f"drift_{month}.html").is_file():
            fail(f"{MODULE}/drift/drift_{month}.html is missing")
        truth = scores(clean[month])
        columns = summary.get("columns", {})
        for name, score in truth.items():
            given = columns.get(name, {})
            kind = "numerical" if name in NUMERICAL else "categorical"
            if given.get("method") != PINNED[kind][0]:
                fail(f"drift_{month}.json: {name} uses {given.get('method')!r}, not the pinned {PINNED[kind][0]!r}")
            if not isinstance(given.get("score"), (int, float)) or abs(given["score"] - score) > SCORE_TOLERANCE:
                fail(
                    f"drift_{month}.json: {name} scores {given.get('score')}, Evidently on the month's clean orders "
                    f"against the reference period gives {score:.6f}"
                )
        mine[month] = truth
    return mine


def drift_rules(m5: Module5) -> set[str]:
    import yaml

    try:
        rules = yaml.safe_load((m5.folder / "rules.yaml").read_text(encoding="utf-8"))["rules"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        fail(f"{MODULE}/rules.yaml cannot be read: {error}")
    return {rule["name"] for rule in rules if isinstance(rule, dict) and rule.get("signal") == "column_drift"}


def firing_pairs(m5: Module5) -> set[tuple[str, str]]:
    """(month, column) of every firing column-drift alert in alerts.json."""
    names = drift_rules(m5)
    timeline = m5.json("alerts.json").get("timeline", [])
    return {
        (row["window"], row["column"])
        for row in timeline
        if row.get("rule") in names and row.get("state") == "firing" and row.get("column")
    }


def expected_pairs(ledger: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(month, column) for month, columns in ledger.items() for column in columns}


def expected_episodes(ledger: dict[str, set[str]]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(column, month) where each drift episode starts firing, and where it resolves."""
    months = sorted(ledger)
    starts, ends = set(), set()
    for column in NUMERICAL + CATEGORICAL:
        for index, month in enumerate(months):
            now = column in ledger[month]
            before = index > 0 and column in ledger[months[index - 1]]
            if now and not before:
                starts.add((column, month))
            if before and not now:
                ends.add((column, month))
    return starts, ends


def read_log(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("predictions-*.jsonl"))
    if not files:
        fail(f"no prediction log in {MODULE}/prediction_log")
    records = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    fail(f"{MODULE}/prediction_log/{path.name}, record {number} is not JSON")
    return records


@pytest.mark.points(3)
def test_log_and_performance_per_month(m5: Module5, clean: dict[str, pd.DataFrame], artifacts_dir: Path) -> None:
    """Exercise 1: the log holds one record per replayed order from the served version, and performance per month matches the labels."""
    from mlflow import MlflowClient
    from sklearn.metrics import roc_auc_score

    records = read_log(m5.folder / "prediction_log")
    months = {month: frame for month, frame in clean.items() if month != "reference"}
    sent = pd.concat([frame[["order_id", "is_late"]].assign(month=month) for month, frame in months.items()])
    logged = pd.DataFrame([{k: r.get(k) for k in ("order_id", "model_version", "late_probability")} for r in records])
    repeated = logged.loc[logged["order_id"].duplicated(), "order_id"]
    assert repeated.empty, f"orders logged more than once: {rows_text(set(repeated))}"
    missing, extra = set(sent["order_id"]) - set(logged["order_id"]), set(logged["order_id"]) - set(sent["order_id"])
    assert not missing and not extra, (
        f"the log should hold exactly the {len(sent)} clean production orders: {len(missing)} are missing "
        f"({rows_text(missing)}), {len(extra)} are not clean production orders of this data ({rows_text(extra)})"
    )
    served = str(m5.manifest.get("served_version"))
    versions = set(logged["model_version"].astype(str))
    assert versions == {served}, f"the log names model versions {sorted(versions)}, the service served {served}"
    uri = f"sqlite:///{(artifacts_dir / 'mlflow.db').resolve().as_posix()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = client.get_model_version(DEFAULT_MODEL_NAME, served).tags
    assert tags.get("data_version") == m5.manifest.get("data_version"), (
        f"version {served} was trained on data {tags.get('data_version')}, not on this data "
        f"({m5.manifest.get('data_version')})"
    )
    performance = {row.get("month"): row for row in m5.json("performance.json").get("months", [])}
    joined = sent.merge(logged, on="order_id")
    for month, group in joined.groupby("month"):
        row = performance.get(month)
        assert row is not None, f"performance.json has no row for {month}"
        auc = roc_auc_score(group["is_late"].astype(int), group["late_probability"])
        late = float(group["is_late"].astype(int).mean())
        assert row.get("labelled") == len(group), (
            f"{month}: {row.get('labelled')} labelled orders, expected {len(group)}"
        )
        assert math.isclose(row.get("late_rate") or -1, late, abs_tol=1e-9), (
            f"{month}: late rate {row.get('late_rate')}, the labels joined by order id give {late:.4f}"
        )
        assert math.isclose(row.get("roc_auc") or -1, auc, abs_tol=1e-9), (
            f"{month}: ROC AUC {row.get('roc_auc')}, the labels joined by order id give {auc:.4f}"
        )


@pytest.mark.points(2)
def test_drift_alerts_stay_quiet_on_clean_months(m5: Module5, ledger, drift_checked) -> None:
    """Exercise 2: no drift alert fires for a month or column the data did not drift in."""
    firing = firing_pairs(m5)
    expected = expected_pairs(ledger)
    assert firing & expected, "no drift alert fired in a drifted month: the threshold is too high (or no rule)"
    false = firing - expected
    assert not false, (
        f"drift alerts fired where nothing drifted: {rows_text(false)}; the threshold sits inside the noise"
    )


@pytest.mark.points(3)
def test_drift_alerts_fire_on_exactly_the_drifted_months_and_columns(m5: Module5, ledger, drift_checked) -> None:
    """Exercise 3: the drift rule fires in every drifted month, for exactly the drifted inputs."""
    if not drift_rules(m5):
        fail("rules.yaml has no rule on the column_drift signal")
    firing = firing_pairs(m5)
    for month in sorted(ledger):
        mine = sorted(column for when, column in firing if when == month)
        assert mine == sorted(ledger[month]), (
            f"{month}: drift alerts fire for {mine or 'no column'}, the inputs that drifted then are "
            f"{sorted(ledger[month]) or 'none'}"
        )


@pytest.mark.points(2)
def test_one_notification_per_episode(m5: Module5, ledger) -> None:
    """Exercise 4: the webhook received one firing and one resolved notification per drift episode, with the runbook."""
    received = m5.json("notifications_received.json")
    names = drift_rules(m5)
    import yaml

    runbooks = {
        rule["name"]: rule.get("runbook")
        for rule in yaml.safe_load((m5.folder / "rules.yaml").read_text(encoding="utf-8"))["rules"]
    }
    found: dict[str, list[tuple[str, str]]] = {"firing": [], "resolved": []}
    for payload in received:
        match = re.fullmatch(r"(\w+)/(\w+)@(\d{4}-\d{2})", str(payload.get("episode", "")))
        if not match or match.group(1) not in names:
            continue
        rule, column, _ = match.groups()
        kind = payload.get("kind")
        assert kind in found, f"a notification of kind {kind!r}: expected 'firing' or 'resolved'"
        words = f"{payload.get('title', '')} {payload.get('text', '')}"
        assert column in words, f"the {kind} notification of {payload['episode']} does not name the column"
        assert payload.get("runbook") == runbooks.get(rule), (
            f"the notification of {payload['episode']} lacks the runbook"
        )
        month = re.findall(r"\d{4}-\d{2}", words)
        assert month, f"the {kind} notification of {payload['episode']} does not name the month"
        found[kind].append((column, month[0]))
    starts, ends = expected_episodes(ledger)
    for kind, expected in (("firing", starts), ("resolved", ends)):
        got = found[kind]
        assert len(got) == len(set(got)), f"some {kind} notifications were sent more than once: {rows_text(got)}"
        assert set(got) == expected, (
            f"{kind} notifications for {rows_text(got) or 'nothing'}; the drift episodes {kind} at "
            f"{rows_text(expected) or 'none'} (column, month)"
        )


@pytest.mark.points(2)
def test_reading_names_the_drifted_months_and_columns(m5: Module5, ledger) -> None:
    """Exercise 5: your reading names every drifted month with exactly its drifted inputs."""
    reading = m5.json("drift_reading.json")
    expected = {month: sorted(columns) for month, columns in ledger.items() if columns}
    got = {str(month): sorted(columns) for month, columns in reading.items()}
    assert got == expected, f"you read {got}; the data drifted in {expected}"


@pytest.mark.points(1)
def test_dashboard_names_the_drifted_months(m5: Module5, ledger) -> None:
    """Exercise 3: the dashboard lists each drifted month with its inputs, and no clean month."""
    page = (m5.folder / "dashboard.html").read_text(encoding="utf-8")
    section = page.split("<h2>Drifted months</h2>", 1)[-1].split("</ul>", 1)[0]
    listed = dict(re.findall(r"<li class='firing'>(\d{4}-\d{2}): ([^<]*)</li>", section))
    expected = {month: ", ".join(sorted(columns)) for month, columns in ledger.items() if columns}
    assert listed == expected, f"the dashboard lists {listed or 'no month'}; the data drifted in {expected}"
