"""Helpers shared by the benchmark scripts: data paths, timing, peak memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SHARED_DATA", "peak_rss_mb", "percentile", "run_isolated"]

SHARED_DATA = Path(
    os.environ.get("RSI_RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def run_isolated(module: str, func: str, *args: Any) -> dict[str, Any]:
    """Run ``module.func(*args)`` in a fresh interpreter; returns its JSON result.

    A fresh process per stage gives each stage its own peak-memory figure and keeps
    model caches of one stage from helping another.
    """
    code = (
        "import json, sys, importlib; "
        f"m = importlib.import_module({module!r}); "
        f"r = getattr(m, {func!r})(*json.loads(sys.argv[1])); "
        "print('__RESULT__' + json.dumps(r))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(list(args))],
        capture_output=True,
        text=True,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"},
    )
    for line in out.stdout.splitlines():
        if line.startswith("__RESULT__"):
            return dict(json.loads(line[len("__RESULT__") :]))
    raise RuntimeError(f"{module}.{func} failed:\n{out.stderr[-4000:]}")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    import time

    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
