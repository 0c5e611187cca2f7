"""``evaluate_gate``: run every check of the spec on a registered challenger against the champion.

    tracking = connect(ARTIFACTS_DIR)
    batch = evaluation_batch(DATA_DIR)                  # newest production month, validated, with labels
    decision = evaluate_gate(tracking, "late-delivery", "3", "champion", batch, GateSpec())
    write_gate_decision(decision, out, "gate_v3")       # gate_v3.json + gate_v3.xml (JUnit)

The safe-format check runs first and reads only the MLmodel file; if it fails, nothing is
deserialised and the checks that need the model are recorded as skipped (a failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from mlops_kit.domain import ID_COLUMN, LABEL_COLUMN, TIMESTAMP_COLUMN
from mlops_kit.features import FeatureDictionary, load_feature_dictionary
from mlops_kit.gates.behaviour import BehaviouralTest, default_behaviours, run_behaviours
from mlops_kit.gates.checks import (
    GateContext,
    GovernanceCheck,
    LatencyCheck,
    MetricCheck,
    SafeFormatCheck,
    SchemaCheck,
    describe_batch,
)
from mlops_kit.gates.decision import CheckResult, GateDecision, skipped
from mlops_kit.gates.spec import GateSpec
from mlops_kit.registry.errors import AliasNotFound, RegistryError
from mlops_kit.registry.versions import VersionFacts, get_version, model_uri, version_by_alias, version_facts


class GateInputError(ValueError):
    """The gate cannot run on what it was given (unknown version, bad batch...); the message says which."""


def resolve_version(tracking: Any, model_name: str, ref: str | int) -> str:
    """A version number for ``ref``: a version (``"3"``, ``3``) or an alias (``"champion"``)."""
    text = str(ref).strip()
    found = get_version(tracking, model_name, text) if text.isdigit() else version_by_alias(tracking, model_name, text)
    return str(found.version)


def check_eval_batch(eval_batch: pd.DataFrame, dictionary: FeatureDictionary) -> None:
    """GateInputError naming what is wrong with the evaluation batch."""
    if not isinstance(eval_batch, pd.DataFrame):
        raise GateInputError(f"the evaluation batch must be a pandas DataFrame, got {type(eval_batch).__name__}")
    needed = [LABEL_COLUMN, *(spec.name for spec in dictionary.inputs)]
    missing = [name for name in needed if name not in eval_batch.columns]
    if missing:
        raise GateInputError(f"the evaluation batch lacks the columns {missing} (it needs the inputs and the label)")
    if eval_batch.empty:
        raise GateInputError("the evaluation batch is empty")
    labels = eval_batch[LABEL_COLUMN]
    if labels.isna().any():
        raise GateInputError(f"{int(labels.isna().sum())} rows of the evaluation batch have no {LABEL_COLUMN!r} label")
    if labels.nunique() < 2:
        raise GateInputError(f"the evaluation batch holds a single {LABEL_COLUMN!r} class: metrics are undefined")


def evaluate_gate(
    tracking: Any,
    model_name: str,
    challenger: str,
    champion: str | None,
    eval_batch: pd.DataFrame,
    spec: GateSpec,
    *,
    behaviours: Sequence[BehaviouralTest] | None = None,
    dictionary: FeatureDictionary | None = None,
    loaded: dict[str, Any] | None = None,
) -> GateDecision:
    """Every check of ``spec`` on ``challenger`` (a version or alias) against ``champion``.

    ``champion`` is a version, an alias (an alias that is not set means there is no champion
    yet) or None. ``eval_batch`` is held-out clean order rows with the label; ``behaviours``
    replaces the default behavioural suite. ``loaded``: a dict the gate leaves the models it loaded in
    (``"challenger"``, ``"champion"``), for a caller that uses them next (deploy's smoke test).
    Raises GateInputError for inputs the gate cannot use.
    """
    if not isinstance(spec, GateSpec):
        raise GateInputError(f"spec must be a GateSpec (GateSpec.model_validate(dict)), got {type(spec).__name__}")
    dictionary = dictionary or load_feature_dictionary()
    check_eval_batch(eval_batch, dictionary)
    try:
        challenger_facts = version_facts(tracking, model_name, resolve_version(tracking, model_name, challenger))
        champion_facts = _champion(tracking, model_name, champion)
    except RegistryError as error:
        raise GateInputError(str(error)) from None
    import mlflow

    tracking.activate()
    info = mlflow.models.get_model_info(model_uri(model_name, version=challenger_facts.version))
    context = GateContext(
        tracking=tracking,
        model_name=model_name,
        challenger=challenger_facts,
        champion=champion_facts,
        eval_batch=eval_batch,
        spec=spec,
        dictionary=dictionary,
        model_info=info,
        models={} if loaded is None else loaded,
    )
    context.evaluation.update(describe_batch(eval_batch, TIMESTAMP_COLUMN))
    context.evaluation["ids_sha_head"] = _ids_digest(eval_batch)
    results = _run_checks(context, behaviours)
    return GateDecision(
        model_name=model_name,
        challenger=challenger_facts.version,
        champion=champion_facts.version if champion_facts else None,
        checks=tuple(results),
        spec=spec.model_dump(mode="json"),
        evaluation=context.evaluation,
    )


def _champion(tracking: Any, model_name: str, champion: str | None) -> VersionFacts | None:
    if champion is None or str(champion).strip().lower() in ("", "none"):
        return None
    try:
        return version_facts(tracking, model_name, resolve_version(tracking, model_name, champion))
    except AliasNotFound:
        return None


def _run_checks(context: GateContext, behaviours: Sequence[BehaviouralTest] | None) -> list[CheckResult]:
    spec = context.spec
    results: list[CheckResult] = []
    safe = True
    if spec.runs("safe_format"):
        results.append(SafeFormatCheck().run(context))
        safe = results[-1].passed
    if spec.runs("schema"):
        results.append(SchemaCheck().run(context))
    if spec.runs("governance"):
        results.append(GovernanceCheck().run(context))
    tests = default_behaviours() if behaviours is None else list(behaviours)
    needs_model: list[tuple[str, str, Any]] = []
    if spec.runs("metric"):
        needs_model.append(("metric", MetricCheck.name, None))
    if spec.runs("behaviour"):
        needs_model += [("behaviour", test.name, test.threshold(spec)) for test in tests]
    if spec.runs("latency"):
        needs_model.append(("latency", LatencyCheck.name, spec.latency_p95_ms))
    if not needs_model:
        return results
    why = None if safe else "the model failed the safe-format check, so it was not loaded"
    if why is None:
        try:
            context.model("challenger")
            if context.champion is not None and spec.runs("metric"):
                context.model("champion")
        except RegistryError as error:
            why = f"the model could not be loaded: {error}"
    if why is not None:
        return results + [skipped(name, family, threshold, why) for family, name, threshold in needs_model]
    if spec.runs("metric"):
        results.append(MetricCheck().run(context))
    if spec.runs("behaviour"):
        results += run_behaviours(context.model("challenger"), context.eval_batch, spec, tests)
    if spec.runs("latency"):
        results.append(LatencyCheck().run(context))
    return results


def _ids_digest(eval_batch: pd.DataFrame) -> str:
    """A short hash of the batch's order ids: which rows the gate judged on."""
    import hashlib

    if ID_COLUMN not in eval_batch.columns:
        return ""
    joined = "\n".join(sorted(str(value) for value in eval_batch[ID_COLUMN]))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]
