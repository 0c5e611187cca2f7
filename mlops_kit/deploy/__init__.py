"""Module 4, deploy by declaration: a spec in YAML, a gate, a real service, then the alias.

Typical use::

    spec = load_deploy_spec("deploy.yaml")                 # DeploySpecError names a bad field
    result = deploy(spec, connect(ARTIFACTS_DIR), evaluation_batch(DATA_DIR), out)
    result.ok, result.record["failed_step"], result.service.url
    result.stop()                                          # the new service, when you are done

From a shell or a CI job: ``python -m mlops_kit.deploy deploy.yaml --artifacts-dir A --data-dir D``
(exit 0 deployed, 1 not deployed, 2 bad input; :mod:`mlops_kit.deploy.cli`).

``deploy`` runs, in order and each at most once: ``resolve`` (version or alias → version;
the current champion) → ``gate`` (``mlops_kit.gates.evaluate_gate`` with ``spec.gate``; decision
written as ``gate_v<N>.json`` + JUnit ``gate_v<N>.xml``) → ``start`` (``ServiceProcess`` pinned to
the version; returns when ``/ready`` answers) → ``metadata`` (``/metadata`` must report that
model and version) → ``smoke`` (``smoke_size`` held-out orders, one request each, every answer
checked against the registered model's in-process prediction) → ``promote`` (module 3's
``promote``: moves ``champion``, writes the audit trail). The first failure stops the deploy:
the new process is stopped, the alias is not moved.

The deploy record, ``<out>/deploy_record.json``:

- ``model_name``, ``requested`` (``version``/``alias`` as written), ``alias`` (the alias deployed
  to, ``champion``), ``spec`` (the whole spec; also written as ``deploy_spec.yaml``);
- ``outcome``: ``deployed`` | ``blocked`` (the gate failed) | ``failed`` (any other step);
  ``failed_step`` (one of STEPS, or null) and ``error`` (why);
- ``version`` (the resolved version), ``champion_before``, ``champion_after`` (read back from
  the registry at the end), ``alias_moved`` and ``alias_moved_at``;
- ``gate``: ``passed``, ``summary``, ``failed_checks``, ``files`` and the full ``decision``;
- ``service``: ``url``, ``host``, ``port``, ``pid``, ``workers``, ``ready_seconds``, ``ready_at``,
  ``ready`` (the ``/ready`` answer), ``metadata`` (the ``/metadata`` answer), ``stopped_at``,
  ``exit_code``, ``running`` (updated by ``DeployResult.stop()``); null when no service started;
- ``smoke``: ``size``, ``passed``, ``failures``, ``finished_at`` and ``results`` (per request:
  ``request_id``, ``order_id``, ``status``, ``late_probability``, ``latency_ms``, ``sent_at``,
  ``answered_at``, ``passed``, ``problems``);
- ``steps``: per step ``step``, ``started_at``, ``finished_at``, ``ok``, ``detail`` or ``error``;
- ``started_at``, ``finished_at``. Times are UTC ISO 8601 with microseconds, so
  ``service.ready_at`` < ``smoke.finished_at`` < ``alias_moved_at`` can be checked.
"""

from mlops_kit.deploy.deploy import (
    BLOCKED,
    DEPLOYED,
    FAILED,
    RECORD_FILE,
    SPEC_FILE,
    STEPS,
    DeployFailed,
    DeployResult,
    deploy,
)
from mlops_kit.deploy.smoke import check_answer, smoke_orders, smoke_test, utc_now
from mlops_kit.deploy.spec import DeploySpec, DeploySpecError, load_deploy_spec, write_deploy_spec

__all__ = [
    "BLOCKED",
    "DEPLOYED",
    "FAILED",
    "RECORD_FILE",
    "SPEC_FILE",
    "STEPS",
    "DeployFailed",
    "DeployResult",
    "DeploySpec",
    "DeploySpecError",
    "check_answer",
    "deploy",
    "load_deploy_spec",
    "smoke_orders",
    "smoke_test",
    "utc_now",
    "write_deploy_spec",
]
