"""``python -m mlops_kit.gates``: run the gate from a shell or a CI job.

Exit status: 0 the challenger passed, 1 it was blocked, 2 the gate could not run (bad
arguments, spec, data or version). The decision is written as ``<out>/<stem>.json`` and the
JUnit report ``<out>/<stem>.xml``, which CI systems display as test results.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m mlops_kit.gates",
        description="Gate a registered challenger against the champion: exit 0 pass, 1 fail, 2 bad input.",
    )
    p.add_argument("--artifacts-dir", required=True, help="folder holding mlflow.db (or set MLFLOW_TRACKING_URI)")
    p.add_argument("--data-dir", required=True, help="data folder; the evaluation batch is its newest month")
    p.add_argument("--challenger", required=True, help="version number or alias of the challenger")
    p.add_argument("--champion", default="champion", help="version or alias to compare with ('none': no champion)")
    p.add_argument("--model", default="late-delivery", help="registered model name")
    p.add_argument("--spec", help="gate spec, YAML or JSON (default: GateSpec() defaults)")
    p.add_argument("--month", help="evaluation month YYYY-MM (default: the newest production month)")
    p.add_argument("--out", default=".", help="folder for the decision files")
    p.add_argument("--stem", default="gate_decision", help="file name stem: <stem>.json and <stem>.xml")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate; return the exit status."""
    args = parser().parse_args(argv)
    from mlops_kit.data import DataLoadError
    from mlops_kit.gates.decision import write_gate_decision
    from mlops_kit.gates.evidence import evaluation_batch
    from mlops_kit.gates.gate import GateInputError, evaluate_gate
    from mlops_kit.gates.spec import GateSpec, GateSpecError, load_gate_spec
    from mlops_kit.registry import RegistryError, connect

    try:
        spec = load_gate_spec(args.spec) if args.spec else GateSpec()
        batch = evaluation_batch(args.data_dir, args.month)
        tracking = connect(args.artifacts_dir)
        decision = evaluate_gate(tracking, args.model, args.challenger, args.champion, batch, spec)
    except (GateSpecError, GateInputError, DataLoadError, RegistryError) as error:
        print(f"gate: cannot run: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    written = write_gate_decision(decision, args.out, args.stem)
    for check in decision.checks:
        print(f"{check.status:>7}  {check.name}: {check.message}")
    print(decision.summary())
    print(f"decision: {written['json']}  junit: {written['junit']}")
    return EXIT_PASS if decision.passed else EXIT_FAIL
