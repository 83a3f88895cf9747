"""Ingestion throughput and retrieval latency on SciFact, side by side with baselines.

Run: ``python -m evals.bench_ingest [--limit N]``. Each stage runs in a fresh process, so
its peak memory is its own. Compares:

* rsi_rag ingestion (chunk, embed, catalog, FAISS) against (a) raw
  ``SentenceTransformer.encode`` of the same documents and of the same chunks, and (b) a
  plain llama-index ``VectorStoreIndex`` with ``HuggingFaceEmbedding`` and a FAISS store;
* ``RAG.retrieve`` latency over the 300 SciFact test claims against raw encode plus FAISS
  search over the same vectors.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from evals._common import SHARED_DATA, peak_rss_mb, percentile, run_isolated

SCIFACT = SHARED_DATA / "scifact"


def _corpus(limit: int) -> list[tuple[str, str]]:
    docs = []
    with open(SCIFACT / "corpus.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            text = (row.get("title", "") + "\n" + row["text"]).strip()
            docs.append((str(row["_id"]), text))
            if limit and len(docs) >= limit:
                break
    return docs


def _test_queries() -> list[str]:
    ids = set()
    with open(SCIFACT / "qrels" / "test.tsv") as fh:
        next(fh)
        ids = {line.split("\t")[0] for line in fh if line.strip()}
    queries = []
    with open(SCIFACT / "queries.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["_id"]) in ids:
                queries.append(row["text"])
    return queries


def stage_raw_encode(limit: int, chunks_file: str) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from rsi_rag._packaged import packaged_embedder_path

    model = SentenceTransformer(str(packaged_embedder_path()), device="cpu")
    texts = [t for _, t in _corpus(limit)]
    model.encode(texts[:64], batch_size=64)
    start = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True)
    docs_s = time.perf_counter() - start
    out = {"docs": len(texts), "seconds": docs_s, "docs_per_s": len(texts) / docs_s}
    if chunks_file:
        chunks = json.loads(Path(chunks_file).read_text())
        start = time.perf_counter()
        model.encode(chunks, batch_size=64, normalize_embeddings=True)
        sec = time.perf_counter() - start
        out.update(chunks=len(chunks), chunk_seconds=sec, chunks_per_s=len(chunks) / sec)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def stage_rsi_rag(limit: int, data_dir: str, chunks_file: str) -> dict[str, Any]:
    from rsi_rag import RAG, SourceDocument

    rag = RAG(data_dir)
    # Model and library loading is not ingestion: warm up on a throwaway collection.
    rag.ingest_documents([SourceDocument("warm-up", "warm up " * 300)], "warm-up")
    docs = [SourceDocument(i, t) for i, t in _corpus(limit)]
    start = time.perf_counter()
    report = rag.ingest_documents(docs, "scifact")
    sec = time.perf_counter() - start
    col = rag.collection("scifact")
    chunks = list(rag.catalog.chunk_texts(col.id).values())
    Path(chunks_file).write_text(json.dumps(chunks))
    return {
        "docs": len(report.added),
        "chunks": report.chunks_added,
        "seconds": sec,
        "docs_per_s": len(report.added) / sec,
        "chunks_per_s": report.chunks_added / sec,
        "failed": len(report.failed),
        "peak_rss_mb": peak_rss_mb(),
    }


def stage_llama_index(limit: int) -> dict[str, Any]:
    import faiss
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    from rsi_rag._packaged import packaged_embedder_path

    Settings.llm = None
    embed = HuggingFaceEmbedding(model_name=str(packaged_embedder_path()), device="cpu")
    embed.get_text_embedding("warm up")
    docs = [Document(text=t, doc_id=i) for i, t in _corpus(limit)]
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
    ctx = StorageContext.from_defaults(vector_store=store)
    start = time.perf_counter()
    VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=embed)
    sec = time.perf_counter() - start
    return {
        "docs": len(docs),
        "seconds": sec,
        "docs_per_s": len(docs) / sec,
        "peak_rss_mb": peak_rss_mb(),
    }


def stage_latency(data_dir: str) -> dict[str, Any]:
    import numpy as np

    from rsi_rag import RAG

    rag = RAG(data_dir)
    queries = _test_queries()
    col = rag.collection("scifact")
    emb = rag.embedder_for(col.retriever_version)
    index = rag.indexes.get(col, col.retriever_version, emb)
    # The raw baseline: same model, a flat inner-product FAISS index over the same vectors.
    import faiss

    raw = faiss.IndexFlatIP(emb.dim)
    ids = index.ids()
    raw.add(np.vstack([index._index.reconstruct(int(i)) for i in ids]).astype("float32"))
    model = emb.model  # type: ignore[attr-defined]
    for q in queries[:10]:
        rag.retrieve(q, "scifact", k=10)
        raw.search(model.encode([q], normalize_embeddings=True), 10)
    rag_ms, raw_ms = [], []
    for q in queries:
        start = time.perf_counter()
        rag.retrieve(q, "scifact", k=10)
        rag_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        raw.search(model.encode([q], normalize_embeddings=True), 10)
        raw_ms.append((time.perf_counter() - start) * 1000)
    return {
        "queries": len(queries),
        "rag_p50_ms": percentile(rag_ms, 50),
        "rag_p95_ms": percentile(rag_ms, 95),
        "raw_p50_ms": percentile(raw_ms, 50),
        "raw_p95_ms": percentile(raw_ms, 95),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="Documents (0: all 5,183).")
    parser.add_argument("--skip-llama-index", action="store_true")
    parser.add_argument("--json", type=Path, help="Write the figures here as JSON.")
    args = parser.parse_args()
    if not SCIFACT.is_dir():
        raise SystemExit(f"SciFact not found at {SCIFACT}; set RSI_RAG_SHARED_DATA")
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    chunks_file = str(work / "chunks.json")
    try:
        results: dict[str, Any] = {}
        mod = "evals.bench_ingest"
        results["rsi_rag"] = run_isolated(
            mod, "stage_rsi_rag", args.limit, str(work / "d"), chunks_file
        )
        results["raw_encode"] = run_isolated(mod, "stage_raw_encode", args.limit, chunks_file)
        if not args.skip_llama_index:
            results["llama_index"] = run_isolated(mod, "stage_llama_index", args.limit)
        results["latency"] = run_isolated(mod, "stage_latency", str(work / "d"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours, raw = results["rsi_rag"], results["raw_encode"]
    print(f"\nSciFact ingestion ({ours['docs']} documents, {ours['chunks']} chunks)")
    print(f"{'pipeline':<38}{'docs/s':>9}{'chunks/s':>10}{'seconds':>9}{'peak MB':>9}")
    print(
        f"{'rsi_rag ingest_documents':<38}{ours['docs_per_s']:>9.1f}{ours['chunks_per_s']:>10.1f}"
        f"{ours['seconds']:>9.1f}{ours['peak_rss_mb']:>9.0f}"
    )
    print(
        f"{'(a) raw encode of the documents':<38}{raw['docs_per_s']:>9.1f}{'':>10}"
        f"{raw['seconds']:>9.1f}{raw['peak_rss_mb']:>9.0f}"
    )
    print(
        f"{'(a) raw encode of the same chunks':<38}{'':>9}{raw['chunks_per_s']:>10.1f}"
        f"{raw['chunk_seconds']:>9.1f}"
    )
    if "llama_index" in results:
        li = results["llama_index"]
        print(
            f"{'(b) llama-index VectorStoreIndex+FAISS':<38}{li['docs_per_s']:>9.1f}{'':>10}"
            f"{li['seconds']:>9.1f}{li['peak_rss_mb']:>9.0f}"
        )
        results["ratio_vs_llama_index_docs"] = ours["docs_per_s"] / li["docs_per_s"]
        print(f"ratio vs (b), docs/s: {results['ratio_vs_llama_index_docs']:.2f} (target >= 1.0)")
    results["ratio_vs_raw_docs"] = ours["docs_per_s"] / raw["docs_per_s"]
    results["ratio_vs_raw_chunks"] = ours["chunks_per_s"] / raw["chunks_per_s"]
    print(
        f"ratio vs (a), docs/s: {results['ratio_vs_raw_docs']:.2f}; "
        f"chunks/s over the same chunks: {results['ratio_vs_raw_chunks']:.2f} (target >= 0.85)"
    )
    lat = results["latency"]
    results["latency_ratio_p50"] = lat["rag_p50_ms"] / lat["raw_p50_ms"]
    print(f"\nRetrieval latency over {lat['queries']} test claims (k=10)")
    print(
        f"  RAG.retrieve        p50 {lat['rag_p50_ms']:.2f} ms  p95 {lat['rag_p95_ms']:.2f} ms"
        f"  peak {lat['peak_rss_mb']:.0f} MB"
    )
    print(f"  raw encode + FAISS  p50 {lat['raw_p50_ms']:.2f} ms  p95 {lat['raw_p95_ms']:.2f} ms")
    print(f"  ratio p50 {results['latency_ratio_p50']:.2f} (target <= 1.25)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
