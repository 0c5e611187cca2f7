"""``make mlflow-ui``: browse an existing MLflow database on a free loopback port.

Refuses, with a message saying how to get one, when the database does not exist: MLflow itself
would silently create an empty store, which looks exactly like "my runs are gone".
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from grading.paths import WORKSPACE_DIR

DEFAULT_DB = WORKSPACE_DIR / "artifacts" / "mlflow.db"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def missing_db_message(db: Path) -> str:
    """What to do when there is no database at ``db`` yet."""
    return (
        f"no MLflow database at {db}: nothing to show yet. Run module 3's notebook in your workspace "
        "(it writes artifacts/mlflow.db next to the notebook), or point at another one, e.g. after `make run`: "
        "make mlflow-ui DB=build/run/artifacts/mlflow.db"
    )


def server_command(db: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow server`` command line that serves ``db`` read-write on ``host:port``."""
    mlflow = Path(sys.executable).with_name("mlflow")
    return [
        str(mlflow),
        "server",
        "--backend-store-uri",
        f"sqlite:///{db.resolve()}",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def wait_until_answering(url: str, server: subprocess.Popen[bytes], poll_seconds: float = 0.5) -> bool:
    """Poll ``url`` until it answers (True) or the server process ends (False)."""
    import time
    import urllib.error
    import urllib.request

    while server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            time.sleep(poll_seconds)
    return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Check the database, print the URL, run the UI until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m grading.mlflow_ui", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"SQLite database (default {DEFAULT_DB})")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    db = args.db
    if not db.is_file():
        print(f"error: {missing_db_message(db)}", file=sys.stderr)
        return 2
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/"
    print(f"starting the MLflow UI for {db} at {url} (it takes a while to start; Ctrl-C stops it)", flush=True)
    quiet = {"PYTHONWARNINGS": "ignore", "MLFLOW_LOGGING_LEVEL": "WARNING", "MLFLOW_ENABLE_TELEMETRY": "false"}
    # browsing needs no background job runner (it starts seven worker processes and slows the start)
    env = {**os.environ, **quiet, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "DO_NOT_TRACK": "1"}
    for stop in (signal.SIGTERM, signal.SIGHUP):  # so `finally` stops the server, whatever ends this process
        signal.signal(stop, _interrupt)
    server = subprocess.Popen(server_command(db, port), env=env, start_new_session=True)
    try:
        if wait_until_answering(url, server):
            print(f"ready: open {url}", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


if __name__ == "__main__":
    sys.exit(main())
