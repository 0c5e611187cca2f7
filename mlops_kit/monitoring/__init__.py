"""Module 5, monitoring & alerting: watch the live service, its inputs, its predictions and, later, its labels.

One job per file: ``predlog`` (read the service's per-worker prediction log), ``replay``
(production months over HTTP), ``performance`` (labels joined by order id), ``drift``
(Evidently, pinned methods; evidently is imported only there, inside the function), ``drift_worker``
(the same reports in a worker process that imports evidently early), ``background`` (start a service meanwhile),
``metrics`` (``/metrics`` parsed by prometheus-client), ``signals`` (one row per window),
``rules`` (declared alert rules), ``alerts`` (pending -> firing -> resolved), ``sinks`` (JSONL,
webhook, a local receiver), ``dashboard`` (one offline HTML page), ``reference`` (where it starts).
"""

from mlops_kit.monitoring.alerts import AlertEvaluation, AlertEvent, evaluate_rules
from mlops_kit.monitoring.background import start_in_background
from mlops_kit.monitoring.dashboard import drifted_windows, write_dashboard
from mlops_kit.monitoring.drift import DRIFT_METHODS, drift_columns, drift_report
from mlops_kit.monitoring.drift_worker import DriftWorker
from mlops_kit.monitoring.metrics import MetricsFormatError, histogram_quantile, parse_metrics, summarise_window
from mlops_kit.monitoring.performance import JoinError, join_labels, performance_by_window
from mlops_kit.monitoring.predlog import PredictionLogError, log_frame, read_log_records, read_prediction_log
from mlops_kit.monitoring.replay import MonthReplay, ReplayError, month_labels, production_months, replay_production
from mlops_kit.monitoring.rules import SIGNALS, AlertRule, RulesError, load_rules, rules_yaml
from mlops_kit.monitoring.signals import signal_table, window_signals
from mlops_kit.monitoring.sinks import JsonlSink, WebhookReceiver, WebhookSink, default_notification, notify

__all__ = [
    "DRIFT_METHODS",
    "SIGNALS",
    "AlertEvaluation",
    "AlertEvent",
    "AlertRule",
    "DriftWorker",
    "JoinError",
    "JsonlSink",
    "MetricsFormatError",
    "MonthReplay",
    "PredictionLogError",
    "ReplayError",
    "RulesError",
    "WebhookReceiver",
    "WebhookSink",
    "default_notification",
    "drift_columns",
    "drift_report",
    "drifted_windows",
    "evaluate_rules",
    "histogram_quantile",
    "join_labels",
    "log_frame",
    "load_rules",
    "month_labels",
    "notify",
    "parse_metrics",
    "performance_by_window",
    "production_months",
    "read_log_records",
    "read_prediction_log",
    "replay_production",
    "rules_yaml",
    "signal_table",
    "start_in_background",
    "summarise_window",
    "window_signals",
    "write_dashboard",
]
