"""Production replay: the monthly batches go through the live service over HTTP, as traffic would.

Each month's orders (validated with module 1's reference rules, labels held back) are sent in
requests of ``batch_size`` orders by ``concurrency`` client threads, with a time limit per
request and per month. ``/metrics`` is scraped before and after each month, so the service's
own counters can be summarised per window. Labels arrive later: ``month_labels``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from mlops_kit.data import list_batches
from mlops_kit.domain import ID_COLUMN, LABEL_COLUMN
from mlops_kit.serving.process import orders_json


class ReplayError(RuntimeError):
    """The replay could not go on (the service is unreachable, or a month ran out of time)."""


@dataclass
class MonthReplay:
    """What one month's replay sent and got back."""

    month: str
    orders: int
    requests: int
    answered: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    metrics_before: str = ""
    metrics_after: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "orders": self.orders,
            "requests": self.requests,
            "answered_orders": self.answered,
            "failed_requests": len(self.errors),
            "model_versions": sorted(set(self.model_versions)),
        }


def production_months(data_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Clean, labelled orders of every production month (module 1's reference rules), by month."""
    from mlops_kit.gates.evidence import evaluation_batch  # function-level: it imports scikit-learn

    return {month: evaluation_batch(data_dir, month) for month in list_batches(data_dir)}


def month_labels(months: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The labels that arrive later: ``order_id``, ``is_late``, ``month``."""
    frames = [batch[[ID_COLUMN, LABEL_COLUMN]].assign(month=month) for month, batch in months.items()]
    labels = pd.concat(frames, ignore_index=True)
    labels[LABEL_COLUMN] = labels[LABEL_COLUMN].astype(int)
    return labels


def _post(client: httpx.Client, url: str, body: str, timeout: float) -> tuple[int, Any]:
    try:
        answer = client.post(
            f"{url}/predict",
            content=body,
            headers={"Content-Type": "application/json", "X-Request-ID": uuid.uuid4().hex},
            timeout=timeout,
        )
    except httpx.HTTPError as error:
        return 0, f"{type(error).__name__}: {error}"
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, answer.text[:200]


def replay_month(
    url: str,
    month: str,
    orders: pd.DataFrame,
    *,
    batch_size: int = 250,
    concurrency: int = 4,
    request_timeout: float = 30.0,
    month_timeout: float = 120.0,
) -> MonthReplay:
    """Send one month's orders to ``url`` (labels dropped); errors are recorded, never raised."""
    if batch_size < 1 or concurrency < 1:
        raise ValueError(f"batch_size and concurrency must be at least 1, got {batch_size} and {concurrency}")
    inputs = orders.drop(columns=[LABEL_COLUMN], errors="ignore")
    bodies = [orders_json(inputs.iloc[start : start + batch_size]) for start in range(0, len(inputs), batch_size)]
    result = MonthReplay(month, len(inputs), len(bodies))
    deadline = time.monotonic() + month_timeout
    with httpx.Client() as client:
        result.metrics_before = scrape_metrics(client, url)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            futures = [pool.submit(_post, client, url, body, request_timeout) for body in bodies]
            for number, future in enumerate(futures):
                remaining = deadline - time.monotonic()
                try:
                    status, answer = future.result(timeout=max(remaining, 0.001))
                except TimeoutError:
                    for pending in futures:
                        pending.cancel()
                    raise ReplayError(f"replaying {month} took longer than {month_timeout:g} s") from None
                if status == 200 and isinstance(answer, dict):
                    result.answered += len(answer["predictions"])
                    result.model_versions.append(str(answer["model_version"]))
                else:
                    detail = answer.get("detail") if isinstance(answer, dict) else answer
                    result.errors.append({"request": number, "status": status, "detail": detail})
        result.metrics_after = scrape_metrics(client, url)
    return result


def scrape_metrics(client: httpx.Client, url: str) -> str:
    """The service's ``/metrics`` text (ReplayError when it cannot be read)."""
    try:
        answer = client.get(f"{url}/metrics", timeout=10.0)
        answer.raise_for_status()
    except httpx.HTTPError as error:
        raise ReplayError(f"cannot read {url}/metrics: {type(error).__name__}: {error}") from None
    return answer.text


def replay_production(
    url: str,
    months: dict[str, pd.DataFrame],
    after_month: Callable[[MonthReplay], Any] | None = None,
    **options: Any,
) -> list[MonthReplay]:
    """Replay every month in order (``options``: see ``replay_month``).

    ``after_month(replay)`` is called once a month's orders are all answered (so logged), before the
    next month starts: the place to start that month's drift report while the service works on.
    """
    replays = []
    for month, orders in months.items():
        replays.append(replay_month(url, month, orders, **options))
        if after_month is not None:
            after_month(replays[-1])
    return replays
