"""``python -m mlops_kit.deploy SPEC``: deploy by declaration from a shell or a CI job.

Exit status: 0 deployed, 1 blocked by the gate or failed at a later step (the alias did not
move), 2 the deploy could not begin (bad arguments, spec, data folder or registry). The record
is ``<out>/deploy_record.json``, next to the gate's decision and its JUnit report.

A CI runner is not where a service lives: once the record is written the service is stopped,
and what the deploy leaves is the moved alias, the audit trail and the record. ``--keep-serving``
keeps it answering in the foreground until SIGINT or SIGTERM, then stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

EXIT_DEPLOYED, EXIT_NOT_DEPLOYED, EXIT_BAD_INPUT = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m mlops_kit.deploy",
        description="Gate, start, health-check and smoke-test a model service, then move the champion alias: "
        "exit 0 deployed, 1 not deployed, 2 bad input.",
    )
    p.add_argument("spec", help="deploy spec, YAML or JSON")
    p.add_argument("--artifacts-dir", required=True, help="folder holding mlflow.db (the registry)")
    p.add_argument("--data-dir", required=True, help="data folder; gate and smoke test use its newest month")
    p.add_argument("--month", help="evaluation month YYYY-MM (default: the newest production month)")
    p.add_argument("--out", default="deploy-record", help="folder for the record, the gate decision, the audit log")
    p.add_argument("--keep-serving", action="store_true", help="after a deploy, serve until SIGINT or SIGTERM")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the deploy; return the exit status."""
    args = parser().parse_args(argv)
    from mlops_kit.data import DataLoadError
    from mlops_kit.deploy.deploy import deploy
    from mlops_kit.deploy.spec import DeploySpecError, load_deploy_spec
    from mlops_kit.gates.evidence import evaluation_batch
    from mlops_kit.registry import RegistryError, connect

    try:
        spec = load_deploy_spec(args.spec)
        if not Path(args.artifacts_dir).is_dir():
            raise RegistryError(f"artifacts folder missing: {args.artifacts_dir}")
        batch = evaluation_batch(args.data_dir, args.month)
        tracking = connect(args.artifacts_dir)
    except (DeploySpecError, DataLoadError, RegistryError) as error:
        print(f"deploy: cannot begin: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with deploy(spec, tracking, batch, args.out) as result:
        for step in result.record["steps"]:
            print(f"{'ok' if step['ok'] else 'FAILED':>6}  {step['step']}: {step.get('error') or step.get('detail')}")
        print(f"outcome: {result.record['outcome']}; champion: version {result.record['champion_after']}")
        print(f"record: {result.path}")
        if result.ok and args.keep_serving and result.service is not None:
            print(f"serving {result.service.url} until SIGINT or SIGTERM", flush=True)
            wait_for_stop_signal()
    return EXIT_DEPLOYED if result.ok else EXIT_NOT_DEPLOYED


def wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM arrives."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
