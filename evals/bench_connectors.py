"""Connector sync throughput: a full sync, then an incremental one after 1% of the items
changed and 1% were deleted, for the filesystem and S3 (SeaweedFS on 127.0.0.1) sources.

Run: ``python -m evals.bench_connectors [--docs 10000] [--sources filesystem,s3]
[--embedder fake|minilm] [--out results.json]``. Every figure splits the sync's wall time
into listing the source, fetching and converting items, ingesting (chunking, embedding,
catalog, FAISS) and deleting, so the connector's own cost is visible apart from the
embedder's. The target: the incremental sync takes at most 10% of the full sync's time
and fetches exactly the changed items.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

WORDS = [
    "policy",
    "travel",
    "expense",
    "invoice",
    "contract",
    "vendor",
    "audit",
    "budget",
    "quarter",
    "revenue",
    "customer",
    "support",
    "ticket",
    "release",
    "deploy",
    "server",
    "network",
    "backup",
    "restore",
    "incident",
    "report",
    "meeting",
    "agenda",
    "roadmap",
    "hiring",
    "onboarding",
    "laptop",
    "security",
    "password",
    "access",
    "review",
    "approval",
]


def _doc(i: int, edition: int = 1) -> str:
    rng = random.Random(i * 7919 + edition)
    body = " ".join(rng.choice(WORDS) for _ in range(45))
    return f"Document {i}, edition {edition}. {body}."


class _Source:
    """Writes, changes and deletes the benchmark's items in one kind of source."""

    type_name = ""

    def options(self) -> dict[str, Any]:
        raise NotImplementedError

    def write(self, items: dict[str, str]) -> None:
        raise NotImplementedError

    def delete(self, names: list[str]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Files(_Source):
    type_name = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)

    def options(self) -> dict[str, Any]:
        return {"root": str(self.root)}

    def write(self, items: dict[str, str]) -> None:
        for name, text in items.items():
            (self.root / f"{name}.txt").write_text(text)

    def delete(self, names: list[str]) -> None:
        for name in names:
            (self.root / f"{name}.txt").unlink()


class _Bucket(_Source):
    type_name = "s3"

    def __init__(self) -> None:
        import os

        from connectors.testing import S3_KEY, S3_SECRET, s3_server

        os.environ["RSI_BENCH_S3_KEY"], os.environ["RSI_BENCH_S3_SECRET"] = S3_KEY, S3_SECRET
        self.server = s3_server()
        self.client: Any = self.server.client()
        self.bucket = f"bench-{int(time.time())}"
        self.client.create_bucket(Bucket=self.bucket)

    def options(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "endpoint_url": self.server.endpoint,
            "access_key_id_env": "RSI_BENCH_S3_KEY",
            "secret_access_key_env": "RSI_BENCH_S3_SECRET",
        }

    def write(self, items: dict[str, str]) -> None:
        def put(kv: tuple[str, str]) -> None:
            self.client.put_object(Bucket=self.bucket, Key=f"docs/{kv[0]}.txt", Body=kv[1].encode())

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, items.items()))

    def delete(self, names: list[str]) -> None:
        for start in range(0, len(names), 1000):
            keys = [{"Key": f"docs/{n}.txt"} for n in names[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    def close(self) -> None:
        self.server.stop()


def _rag(data: Path, embedder: str) -> Any:
    from rsi_rag import RAG

    if embedder == "fake":
        from rsi_rag.testing import FakeEmbedder

        return RAG(data, embedder=FakeEmbedder(dim=384))
    return RAG(data)


def _figures(report: Any) -> dict[str, Any]:
    t = report.timings
    return {
        "seconds": round(report.seconds, 3),
        "connector_seconds": round(t["list"] + t["fetch"], 3),
        "timings": t,
        "listed": report.listed,
        "fetched": report.fetched,
        "added": len(report.added),
        "updated": len(report.updated),
        "deleted": len(report.deleted),
        "unchanged": report.unchanged,
        "failed": len(report.failed),
    }


def run(kind: str, n: int, embedder: str, work: Path) -> dict[str, Any]:
    import connectors

    source: _Source = _Files(work / "files") if kind == "filesystem" else _Bucket()
    try:
        names = [f"doc{i:06d}" for i in range(n)]
        t0 = time.perf_counter()
        source.write({name: _doc(i) for i, name in enumerate(names)})
        setup_s = time.perf_counter() - t0
        rag = _rag(work / f"data-{kind}", embedder)
        runner = connectors.SyncRunner(rag)
        runner.add_source("bench", source.type_name, "bench", source.options())
        full = runner.sync("bench")
        k = max(1, n // 100)
        rng = random.Random(0)
        picked = rng.sample(range(n), 2 * k)
        changed, deleted = picked[:k], picked[k:]
        time.sleep(0.01)  # distinct modification times for the rewritten files
        source.write({names[i]: _doc(i, edition=2) for i in changed})
        source.delete([names[i] for i in deleted])
        incr = runner.sync("bench")
        noop = runner.sync("bench")
        rag.close()
    finally:
        source.close()
    out = {
        "source": kind,
        "docs": n,
        "embedder": embedder,
        "write_source_seconds": round(setup_s, 2),
        "full": _figures(full),
        "incremental": _figures(incr),
        "unchanged_resync": _figures(noop),
        "changed": k,
        "deleted": k,
    }
    out["docs_per_second_full"] = round(n / full.seconds, 1)
    out["incremental_over_full"] = round(incr.seconds / full.seconds, 4)
    out["incremental_touches_only_changes"] = (
        incr.fetched == k
        and len(incr.updated) == k
        and len(incr.deleted) == k
        and not incr.added
        and not incr.failed
    )
    out["target_met"] = (
        out["incremental_over_full"] <= 0.10 and out["incremental_touches_only_changes"]
    )
    return out


def _print(r: dict[str, Any]) -> None:
    f, i, z = r["full"], r["incremental"], r["unchanged_resync"]
    print(f"\n== {r['source']}: {r['docs']} docs, embedder {r['embedder']} ==")
    print(
        f"full sync         {f['seconds']:8.2f}s  ({r['docs_per_second_full']} docs/s; "
        f"connector {f['connector_seconds']:.2f}s, ingest {f['timings']['ingest']:.2f}s)"
    )
    print(
        f"incremental sync  {i['seconds']:8.2f}s  (fetched {i['fetched']}, updated "
        f"{i['updated']}, deleted {i['deleted']}, unchanged {i['unchanged']}; connector "
        f"{i['connector_seconds']:.2f}s, ingest {i['timings']['ingest']:.2f}s, delete "
        f"{i['timings']['delete']:.2f}s)"
    )
    print(f"unchanged re-sync {z['seconds']:8.2f}s  (fetched {z['fetched']})")
    print(
        f"incremental / full = {r['incremental_over_full']:.2%}; touches only changed items: "
        f"{r['incremental_touches_only_changes']}; target met: {r['target_met']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--sources", default="filesystem,s3")
    parser.add_argument("--embedder", choices=("fake", "minilm"), default="minilm")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rsi-bench-connectors-"))
    results = []
    try:
        for kind in args.sources.split(","):
            r = run(kind.strip(), args.docs, args.embedder, work)
            _print(r)
            results.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
