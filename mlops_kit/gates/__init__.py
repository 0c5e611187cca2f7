"""Module 4, the CI/CD gate between a challenger and the champion.

Typical use::

    spec = GateSpec.model_validate({"metric": "roc_auc", "tolerance": 0.02, "floor": 0.6, "latency_p95_ms": 50})
    batch = evaluation_batch(DATA_DIR)            # newest production month, validated, labelled
    decision = evaluate_gate(connect(ARTIFACTS_DIR), "late-delivery", "3", "champion", batch, spec)
    decision.passed, decision.table()
    write_gate_decision(decision, out, "gate_v3")  # gate_v3.json and JUnit XML gate_v3.xml

From a shell or a CI job (exit 0 pass, 1 fail, 2 bad input)::

    python -m mlops_kit.gates --artifacts-dir artifacts --data-dir datasets/v0/data --challenger 3

One job per file: ``spec`` (GateSpec), ``decision`` (results, JSON, JUnit), ``behaviour``
(CheckList-style tests), ``checks`` (format, schema, governance, metric, latency), ``gate``
(evaluate_gate), ``evidence`` (evaluation batch, bootstrap), ``challengers`` (a sound retrain and
broken ones), ``plots``, ``cli``. The example CI workflow is ``ci_example/github-actions.yml``.
"""

from pathlib import Path

from mlops_kit.gates.behaviour import (
    BehaviouralTest,
    BehaviourError,
    Directional,
    Invariance,
    MinimumFunctionality,
    behaviour_cases,
    changed_columns,
    default_behaviours,
    run_behaviours,
)
from mlops_kit.gates.challengers import (
    broken_feature_challenger,
    mirrored,
    retrained_challenger,
    shuffled_labels_challenger,
)
from mlops_kit.gates.checks import (
    GateContext,
    GovernanceCheck,
    LatencyCheck,
    MetricCheck,
    SafeFormatCheck,
    SchemaCheck,
    schema_problems,
    single_row_latencies,
)
from mlops_kit.gates.decision import CheckResult, GateDecision, write_gate_decision
from mlops_kit.gates.evidence import bootstrap_metric, evaluation_batch, newest_month
from mlops_kit.gates.gate import GateInputError, evaluate_gate, resolve_version
from mlops_kit.gates.reference import MODULE4_CANDIDATES, start_from_module3
from mlops_kit.gates.spec import CHECK_FAMILIES, GateSpec, GateSpecError, load_gate_spec

CI_WORKFLOW: Path = Path(__file__).resolve().parent / "ci_example" / "github-actions.yml"
"""The example GitHub Actions workflow that trains, gates and deploys on a push (a teaching artifact)."""

__all__ = [
    "CHECK_FAMILIES",
    "CI_WORKFLOW",
    "MODULE4_CANDIDATES",
    "BehaviourError",
    "BehaviouralTest",
    "CheckResult",
    "Directional",
    "GateContext",
    "GateDecision",
    "GateInputError",
    "GateSpec",
    "GateSpecError",
    "GovernanceCheck",
    "Invariance",
    "LatencyCheck",
    "MetricCheck",
    "MinimumFunctionality",
    "SafeFormatCheck",
    "SchemaCheck",
    "behaviour_cases",
    "bootstrap_metric",
    "broken_feature_challenger",
    "changed_columns",
    "default_behaviours",
    "evaluate_gate",
    "evaluation_batch",
    "load_gate_spec",
    "mirrored",
    "newest_month",
    "resolve_version",
    "retrained_challenger",
    "run_behaviours",
    "schema_problems",
    "shuffled_labels_challenger",
    "single_row_latencies",
    "start_from_module3",
    "write_gate_decision",
]
