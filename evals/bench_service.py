"""The service under load: SciFact served over HTTP on 127.0.0.1.

Run: ``python -m evals.bench_service [--limit N] [--queries N] [--answers N]``. Steps:

1. ingest the SciFact corpus into a data directory (kept with ``--data-dir`` for reruns);
2. in this process, time ``RAG.retrieve`` on the test claims (the in-process baseline);
3. start ``rsi-rag serve`` in its own process and wait for ``/readyz``;
4. retrieve-only load at 1, 8 and 32 concurrent clients, each level bounded by a request
   count and a duration: throughput and latency p50/p95;
5. answered queries from a single client over Server-Sent Events: time to first token and
   total latency p50/p95;
6. the ratio of HTTP retrieve latency (1 client) to the in-process call.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from evals._common import SHARED_DATA, percentile

SCIFACT = SHARED_DATA / "scifact"
COLLECTION = "scifact"


def _corpus(limit: int) -> list[Any]:
    from rsi_rag import SourceDocument

    docs = []
    with open(SCIFACT / "corpus.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            text = (row.get("title", "") + "\n" + row["text"]).strip()
            docs.append(SourceDocument(f"scifact/{row['_id']}", text))
            if limit and len(docs) >= limit:
                break
    return docs


def _test_claims(n: int) -> list[str]:
    with open(SCIFACT / "qrels" / "test.tsv") as fh:
        next(fh)
        ids = {line.split("\t")[0] for line in fh if line.strip()}
    claims = []
    with open(SCIFACT / "queries.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["_id"]) in ids:
                claims.append(row["text"])
    return claims[:n] if n else claims


def _prepare(data_dir: Path, limit: int, queries: list[str]) -> tuple[Any, str, list[float]]:
    """Ingest (if needed), time in-process retrieval, create a key; returns (rag, key, ms)."""
    from rsi_rag import RAG
    from rsi_rag.store.keys import ApiKeyStore

    rag = RAG(data_dir)
    have = {c.name: c.num_documents for c in rag.collections()}
    if have.get(COLLECTION, 0) == 0:
        started = time.perf_counter()
        report = rag.ingest_documents(_corpus(limit), COLLECTION, progress=True)
        print(
            f"ingested {len(report.added)} documents, {report.chunks_added} chunks in "
            f"{time.perf_counter() - started:.0f} s"
        )
    for q in queries[:5]:  # warm up
        rag.retrieve(q, COLLECTION, 10)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        rag.retrieve(q, COLLECTION, 10)
        times.append((time.perf_counter() - t0) * 1000)
    _, key = ApiKeyStore(rag.catalog).create("default", "read", name="bench")
    return rag, key, times


def _paired(url: str, key: str, rag: Any, queries: list[str]) -> tuple[list[float], list[float]]:
    """The same query in-process and over HTTP, alternately, so both see the same load."""
    import httpx

    local: list[float] = []
    remote: list[float] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
        for q in queries:
            t0 = time.perf_counter()
            rag.retrieve(q, COLLECTION, 10)
            local.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            r = http.post(f"/v1/collections/{COLLECTION}/retrieve", json={"query": q, "k": 10})
            r.raise_for_status()
            remote.append((time.perf_counter() - t0) * 1000)
    return local, remote


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    import httpx

    exe = Path(sys.executable).with_name("rsi-rag")
    cmd = [
        str(exe),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the server did not become ready within 300 s")


def _load(
    url: str, key: str, queries: list[str], clients: int, max_requests: int, max_seconds: float
) -> dict[str, Any]:
    """``clients`` threads send retrieve requests until the count or duration is reached."""
    import httpx

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(max_requests))
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as http:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                r = http.post(
                    f"/v1/collections/{COLLECTION}/retrieve",
                    json={"query": queries[i % len(queries)], "k": 10},
                )
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if r.status_code == 200:
                        latencies.append(ms)
                    else:
                        errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors[0],
        "seconds": wall,
        "throughput_rps": len(latencies) / wall,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }


def _answers(url: str, key: str, questions: list[str]) -> dict[str, Any]:
    """Single client, streamed answers: time to first token and total latency."""
    import httpx

    ttft: list[float] = []
    total: list[float] = []
    abstained = 0
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=300
    ) as http:
        for q in questions:
            t0 = time.perf_counter()
            first = None
            answer: dict[str, Any] | None = None
            event = ""
            with http.stream(
                "POST", f"/v1/collections/{COLLECTION}/query/stream", json={"question": q}
            ) as resp:
                resp.raise_for_status()
                for line in resp.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        if event == "token" and first is None:
                            first = time.perf_counter() - t0
                        elif event == "answer":
                            answer = json.loads(line[5:])
            end = time.perf_counter() - t0
            if answer is None or answer["abstained"]:
                abstained += 1
                continue
            ttft.append((first or end) * 1000)
            total.append(end * 1000)
    out: dict[str, Any] = {"asked": len(questions), "answered": len(ttft), "abstained": abstained}
    if ttft:
        out |= {
            "ttft_p50_ms": percentile(ttft, 50),
            "ttft_p95_ms": percentile(ttft, 95),
            "total_p50_ms": percentile(total, 50),
            "total_p95_ms": percentile(total, 95),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="corpus documents (0: all)")
    parser.add_argument("--queries", type=int, default=300, help="test claims used")
    parser.add_argument("--answers", type=int, default=20, help="answered queries asked")
    parser.add_argument("--max-requests", type=int, default=300, help="per concurrency level")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per concurrency level")
    parser.add_argument("--data-dir", type=Path, default=None, help="kept between runs")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads, here and in the server"
    )
    args = parser.parse_args()
    # Set before torch loads, in this process and (inherited) in the server's.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    if not SCIFACT.is_dir():
        sys.exit(f"SciFact is not at {SCIFACT}; set RSI_RAG_SHARED_DATA")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-service-"))
    queries = _test_claims(args.queries)
    rag, key, inproc = _prepare(data_dir, args.limit, queries)
    port = _free_port()
    server = _start_server(data_dir, port)
    url = f"http://127.0.0.1:{port}"
    try:
        _load(url, key, queries, 1, 10, 30)  # warm up the HTTP path
        levels = [
            _load(url, key, queries, c, args.max_requests, args.max_seconds) for c in (1, 8, 32)
        ]
        local, remote = _paired(url, key, rag, queries)
        answers = _answers(url, key, queries[: args.answers])
    finally:
        server.terminate()
        server.wait(30)
        rag.close()
    inproc_p50 = percentile(inproc, 50)
    print(
        f"\nSciFact service benchmark ({len(queries)} test claims, k=10, dense, "
        f"{os.cpu_count()} CPUs, torch threads {args.threads}, load average "
        f"{os.getloadavg()[0]:.1f})"
    )
    print(f"in-process RAG.retrieve: p50 {inproc_p50:.1f} ms, p95 {percentile(inproc, 95):.1f} ms")
    print(f"{'clients':>8} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for r in levels:
        print(
            f"{r['clients']:>8} {r['requests']:>9} {r['errors']:>7} "
            f"{r['throughput_rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f}"
        )
    ratios = [r / max(loc, 1e-6) for loc, r in zip(local, remote, strict=True)]
    print(
        f"paired, same queries alternately: in-process p50 {percentile(local, 50):.1f} ms, "
        f"HTTP p50 {percentile(remote, 50):.1f} ms; HTTP / in-process: ratio of p50s "
        f"{percentile(remote, 50) / percentile(local, 50):.2f}x, median per-query ratio "
        f"{percentile(ratios, 50):.2f}x"
    )
    print(
        f"HTTP / in-process retrieve latency (p50, 1 client, separate runs): "
        f"{levels[0]['p50_ms'] / inproc_p50:.2f}x "
        f"(+{levels[0]['p50_ms'] - inproc_p50:.1f} ms)"
    )
    print(
        f"answers (single client, SSE): asked {answers['asked']}, answered "
        f"{answers['answered']}, abstained {answers['abstained']}"
    )
    if answers["answered"]:
        print(
            f"  time to first token p50 {answers['ttft_p50_ms']:.0f} ms, "
            f"p95 {answers['ttft_p95_ms']:.0f} ms; total p50 {answers['total_p50_ms']:.0f} ms, "
            f"p95 {answers['total_p95_ms']:.0f} ms"
        )
    print(
        json.dumps(
            {
                "paired_ms": {
                    "in_process_p50": percentile(local, 50),
                    "http_p50": percentile(remote, 50),
                    "median_ratio": percentile(ratios, 50),
                },
                "in_process_ms": {"p50": inproc_p50, "p95": percentile(inproc, 95)},
                "retrieve": levels,
                "answers": answers,
            }
        )
    )


if __name__ == "__main__":
    main()
