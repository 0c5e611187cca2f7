"""Benchmark the course set-up (``make env``) from a fresh clone: uv against pip, empty and warm cache.

Each run clones the repository's HEAD into a temporary folder and runs ``tools/setup_env.sh`` there,
with the installer forced (``COURSE_INSTALLER``) and the package caches pointed at a folder of the
benchmark's own: a new empty one for "cold", one filled by an untimed priming run for "warm".
Writes JSON with the median and every run (seconds). Usage::

    python tools/bench_setup.py --runs 3 --out build/bench-setup.json [--installers uv pip]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLERS = ("uv", "pip")


def fresh_clone(scratch: Path) -> Path:
    """Clone HEAD of the course repository into ``scratch``; return the clone's folder."""
    clone = scratch / "course"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    return clone


def timed_setup(installer: str, cache: Path) -> float:
    """Seconds for ``tools/setup_env.sh`` in a fresh clone with ``installer`` and package cache ``cache``."""
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as scratch:
        clone = fresh_clone(Path(scratch))
        env = {
            **os.environ,
            "COURSE_INSTALLER": installer,
            "UV_CACHE_DIR": str(cache / "uv"),
            "PIP_CACHE_DIR": str(cache / "pip"),
        }
        started = time.perf_counter()
        done = subprocess.run(["bash", "tools/setup_env.sh"], cwd=clone, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"set-up with {installer} failed:\n{done.stdout}\n{done.stderr}")
        used = (clone / ".venv" / ".course-installed").read_text().strip()
        if used != installer:
            raise RuntimeError(f"asked for {installer}, set-up used {used}")
        return round(seconds, 1)


def measure(installer: str, runs: int, scratch: Path) -> dict[str, dict[str, object]]:
    """Cold (new empty cache each run) and warm (cache primed once, untimed) set-up times."""
    cold = [timed_setup(installer, Path(tempfile.mkdtemp(dir=scratch))) for _ in range(runs)]
    warm_cache = Path(tempfile.mkdtemp(dir=scratch))
    timed_setup(installer, warm_cache)  # priming run
    warm = [timed_setup(installer, warm_cache) for _ in range(runs)]
    return {
        "cold_cache": {"median_s": statistics.median(cold), "runs_s": cold},
        "warm_cache": {"median_s": statistics.median(warm), "runs_s": warm},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--installers", nargs="+", choices=INSTALLERS, default=list(INSTALLERS))
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-setup.json")
    args = parser.parse_args(argv)
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_at_start": os.getloadavg()},
        "goal": "under 60 s with a warm cache (uv)",
    }
    with tempfile.TemporaryDirectory(prefix="bench-setup-caches-") as scratch:
        for installer in args.installers:
            results[installer] = measure(installer, args.runs, Path(scratch))
            print(f"{installer}: {json.dumps(results[installer])}", flush=True)
    results["load_avg_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
