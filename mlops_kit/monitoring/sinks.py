"""Where alert notifications go: an append-only JSONL log and a webhook (HTTP POST), plus a local receiver.

Every sink's ``send(payload)`` returns a delivery record and never raises for a sink that is
down: evaluation goes on, and the failure is recorded. The webhook retries a bounded number
of times, each attempt with a time limit. ``WebhookReceiver`` is a small real HTTP server on
loopback (a thread of this process) that stores what arrives, for the notebook and the tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import httpx

from mlops_kit.io import append_json_line
from mlops_kit.monitoring.alerts import AlertEvent

Formatter = Callable[[AlertEvent], dict[str, Any]]


class Sink(Protocol):
    """Something that receives notifications."""

    name: str

    def send(self, payload: dict[str, Any]) -> dict[str, Any]: ...


def default_notification(event: AlertEvent) -> dict[str, Any]:
    """A notification for ``event``: title, text with the value and threshold, runbook, episode id."""
    where = f" on {event.column}" if event.column else ""
    if event.kind == "firing":
        title = f"[{event.severity.upper()}] {event.rule}{where} firing since {event.window}"
        text = f"{event.rule}{where}: {event.value:.3f} is {event.condition} {event.threshold:g} in {event.window}."
    else:
        title = f"[RESOLVED] {event.rule}{where} in {event.window}"
        text = f"{event.rule}{where} is back to {event.value:.3f} in {event.window} (fired {', '.join(event.windows)})."
    return {
        "kind": event.kind,
        "title": title,
        "text": text,
        "runbook": event.runbook,
        "episode": event.episode,
        "window": event.window,
    }


class JsonlSink:
    """Appends each notification as one JSON line (fsynced) to ``path``."""

    def __init__(self, path: str | Path, name: str = "jsonl") -> None:
        self.path = Path(path)
        self.name = name

    def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            append_json_line(self.path, payload)
        except OSError as error:
            return {"sink": self.name, "ok": False, "attempts": 1, "error": f"{type(error).__name__}: {error}"}
        return {"sink": self.name, "ok": True, "attempts": 1, "error": None}


class WebhookSink:
    """POSTs each notification as JSON to ``url``: ``attempts`` tries at most, ``timeout`` seconds each."""

    def __init__(
        self, url: str, *, timeout: float = 2.0, attempts: int = 3, backoff: float = 0.1, name: str = "webhook"
    ) -> None:
        if attempts < 1 or timeout <= 0:
            raise ValueError(f"attempts must be at least 1 and timeout positive, got {attempts} and {timeout}")
        self.url, self.timeout, self.attempts, self.backoff, self.name = url, timeout, attempts, backoff, name

    def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        error = None
        for attempt in range(1, self.attempts + 1):
            try:
                answer = httpx.post(self.url, json=payload, timeout=self.timeout)
                if answer.status_code < 300:
                    return {"sink": self.name, "ok": True, "attempts": attempt, "error": None}
                error = f"HTTP {answer.status_code}"
            except httpx.HTTPError as problem:
                error = f"{type(problem).__name__}: {problem}" if str(problem) else type(problem).__name__
            if attempt < self.attempts:
                time.sleep(self.backoff * attempt)
        return {"sink": self.name, "ok": False, "attempts": self.attempts, "error": error}


def notify(
    events: Sequence[AlertEvent], sinks: Sequence[Sink], formatter: Formatter = default_notification
) -> list[dict[str, Any]]:
    """Send every event to every sink; one delivery record per (event, sink), failures included."""
    deliveries = []
    for event in events:
        payload = formatter(event)
        if not isinstance(payload, dict):
            raise TypeError(f"the notification formatter must return a dict, got {type(payload).__name__}")
        for sink in sinks:
            deliveries.append({"episode": event.episode, "kind": event.kind, **sink.send(payload)})
    return deliveries


class WebhookReceiver:
    """A local HTTP receiver on loopback: stores every JSON body POSTed to it (``received``).

    ``delay`` seconds before answering simulate a slow receiver; ``fail_first`` answers 503 to
    that many requests first (a flaky one).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests += 1
                    failing = receiver.requests <= fail_first
                if delay:
                    time.sleep(delay)
                if failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                try:
                    payload = json.loads(body)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.received.append(payload)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/alerts"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def event_record(event: AlertEvent) -> dict[str, Any]:
    """An event as plain data (for JSON files)."""
    return asdict(event)
