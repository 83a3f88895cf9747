"""Baselines on the real sets, each system in its own process, merged into one report.

Run: ``python -m evals.run_baselines [--out runs/eval]``. Retrieval through the
project's collections (BM25, MiniLM dense, hybrid) and the generator with retrieved context
run inside the suites; the plain llama-index pipeline and the generator with gold context
need no collection and run after them, one process each. Writes ``baselines.json`` and
``baselines.html`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from evals.cli import print_table
from evals.report import write_reports
from evals.runner import merge_results

_SUITE = (
    "import json,sys; from pathlib import Path; from evals.runner import run_suite; "
    "r=run_suite(sys.argv[1], Path(sys.argv[2]), skip=tuple(sys.argv[3].split(','))); "
    "Path(sys.argv[4]).write_text(json.dumps(r, default=str))"
)
_ONE = (
    "import json,sys; from pathlib import Path; from evals.runner import run_standalone; "
    "r=run_standalone(sys.argv[1], sys.argv[2], sys.argv[3]); "
    "Path(sys.argv[4]).write_text(json.dumps(r, default=str))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/eval"))
    parser.add_argument(
        "--merge-only", action="store_true", help="Only merge the parts already in --out."
    )
    parser.add_argument(
        "--only", default="", help="Comma-separated jobs to rerun (the others are merged as is)."
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    jobs = {
        "scifact": [_SUITE, "scifact", str(out / "data"), "llamaindex"],
        "covidqa": [_SUITE, "covidqa", str(out / "data-covid"), "llamaindex,generator_gold"],
        "scifact-llamaindex": [_ONE, "scifact", "scifact", "llamaindex"],
        "covidqa-llamaindex": [_ONE, "covidqa", "covidqa", "llamaindex"],
        "covidqa-generator_gold": [_ONE, "covidqa", "covidqa", "generator_gold"],
    }
    failed: list[str] = []
    # One system at a time: on a small machine, parallel model processes only slow each
    # other down and skew the latency figures.
    only = {j.strip() for j in args.only.split(",") if j.strip()}
    if only - set(jobs):
        parser.error(f"unknown jobs {sorted(only - set(jobs))}; known: {sorted(jobs)}")
    selected = {n: j for n, j in jobs.items() if not only or n in only}
    for name, (code, *argv) in ({} if args.merge_only else selected).items():
        print(f"running {name} (log: {out / f'{name}.log'})", flush=True)
        with (out / f"{name}.log").open("w") as log:
            rc = subprocess.run(
                [sys.executable, "-c", code, *argv, str(out / f"{name}.json")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            ).returncode
        if rc != 0:
            failed.append(name)
    results = {
        "suite": "baselines",
        "description": "SciFact test claims and the COVID-QA "
        "report split: retrieval and generator baselines.",
        "datasets": {},
    }
    for name in ("scifact", "covidqa"):
        if (out / f"{name}.json").exists():
            part = json.loads((out / f"{name}.json").read_text())
            results["datasets"].update(part["datasets"])
            results.setdefault("created_at", part["created_at"])
    for name in ("scifact-llamaindex", "covidqa-llamaindex", "covidqa-generator_gold"):
        if (out / f"{name}.json").exists():
            merge_results(results, json.loads((out / f"{name}.json").read_text()))
    write_reports(results, out / "baselines.json", out / "baselines.html")
    print_table(results)
    if failed:
        print(f"failed (see their logs in {out}): {failed}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
