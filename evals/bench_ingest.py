"""Ingestion throughput and retrieval latency on SciFact, side by side with baselines.

Run: ``python -m evals.bench_ingest [--limit N]``. Each stage runs in a fresh process, so
its peak memory is its own. Compares:

* rsi_rag ingestion (chunk, embed, catalog, FAISS) against (a) raw
  ``SentenceTransformer.encode`` of the same documents and of the same chunks, and (b) a
  plain llama-index ``VectorStoreIndex`` with ``HuggingFaceEmbedding`` and a FAISS store;
* ``RAG.retrieve`` latency over the 300 SciFact test claims against raw encode plus FAISS
  search over the same vectors.

rsi_rag encodes in bfloat16 where the CPU computes it natively (``RAGConfig.precision``,
``--precision`` here); the raw baselines are printed both as plain ``encode`` calls
(float32, what a user of the library gets) and under the same bfloat16 autocast, so the
pipeline's own overhead can be read apart from the arithmetic.
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


def _test_qrels() -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(SCIFACT / "qrels" / "test.tsv") as fh:
        next(fh)
        for line in fh:
            if line.strip():
                qid, doc, rel = line.split("\t")[:3]
                qrels.setdefault(qid, {})[doc] = int(rel)
    return qrels


def _test_queries() -> dict[str, str]:
    ids = set(_test_qrels())
    queries = {}
    with open(SCIFACT / "queries.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["_id"]) in ids:
                queries[str(row["_id"])] = row["text"]
    return queries


def stage_raw_encode(limit: int, chunks_file: str, precision: str = "fp32") -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from rsi_rag._packaged import packaged_embedder_path
    from rsi_rag.embed.precision import autocast

    model = SentenceTransformer(str(packaged_embedder_path()), device="cpu")
    texts = [t for _, t in _corpus(limit)]
    with autocast(precision, "cpu"):
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


def stage_rsi_rag(
    limit: int, data_dir: str, chunks_file: str, precision: str = "auto"
) -> dict[str, Any]:
    from rsi_rag import RAG, RAGConfig, SourceDocument

    rag = RAG(data_dir, RAGConfig(precision=precision))
    emb = rag.embedder
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
        "precision": getattr(emb, "precision", "fp32"),
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


def stage_latency(data_dir: str, precision: str = "auto") -> dict[str, Any]:
    import numpy as np

    from rsi_rag import RAG, RAGConfig
    from rsi_rag.embed.precision import autocast

    rag = RAG(data_dir, RAGConfig(precision=precision))
    by_id = _test_queries()
    queries = list(by_id.values())
    col = rag.collection("scifact")
    emb = rag.embedder_for(col.retriever_version)
    index = rag.indexes.get(col, col.retriever_version, emb)
    # The raw baseline: same model, a flat inner-product FAISS index over the same vectors.
    import faiss

    raw = faiss.IndexFlatIP(emb.dim)
    ids = index.ids()
    raw.add(np.vstack([index._index.reconstruct(int(i)) for i in ids]).astype("float32"))
    model = emb.model  # type: ignore[attr-defined]

    def raw_search(q: str, arith: str) -> None:
        with autocast(arith, "cpu"):
            vec = model.encode([q], normalize_embeddings=True)
        raw.search(np.asarray(vec, dtype="float32"), 10)

    for q in queries[:10]:
        rag.retrieve(q, "scifact", k=10)
        raw_search(q, "fp32")
        raw_search(q, "bf16")
    # Interleaved, so drift in the machine's load hits all three alike.
    rag_ms, raw_ms, raw_bf16_ms = [], [], []
    for q in queries:
        start = time.perf_counter()
        rag.retrieve(q, "scifact", k=10)
        rag_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        raw_search(q, "fp32")
        raw_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        raw_search(q, "bf16")
        raw_bf16_ms.append((time.perf_counter() - start) * 1000)
    # Quality of what was measured: document nDCG@10 (BEIR protocol), full corpus only.
    from rsi_rag.evaluation.metrics import ranking_scores

    run: dict[str, dict[str, float]] = {}
    for qid, text in by_id.items():
        docs: dict[str, float] = {}
        for h in rag.retrieve(text, "scifact", k=100):
            docs.setdefault(h.source, h.score)
        run[qid] = docs
    per = ranking_scores(_test_qrels(), run, ("ndcg@10",))["ndcg@10"]
    return {
        "ndcg@10": sum(per.values()) / len(per),
        "queries": len(queries),
        "precision": getattr(emb, "precision", "fp32"),
        "rag_p50_ms": percentile(rag_ms, 50),
        "rag_p95_ms": percentile(rag_ms, 95),
        "raw_p50_ms": percentile(raw_ms, 50),
        "raw_p95_ms": percentile(raw_ms, 95),
        "raw_bf16_p50_ms": percentile(raw_bf16_ms, 50),
        "raw_bf16_p95_ms": percentile(raw_bf16_ms, 95),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="Documents (0: all 5,183).")
    parser.add_argument("--skip-llama-index", action="store_true")
    parser.add_argument(
        "--precision", default="auto", choices=("auto", "fp32", "bf16"), help="rsi_rag's"
    )
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
            mod, "stage_rsi_rag", args.limit, str(work / "d"), chunks_file, args.precision
        )
        results["raw_encode"] = run_isolated(mod, "stage_raw_encode", args.limit, chunks_file)
        results["raw_encode_bf16"] = run_isolated(
            mod, "stage_raw_encode", args.limit, chunks_file, "bf16"
        )
        if not args.skip_llama_index:
            results["llama_index"] = run_isolated(mod, "stage_llama_index", args.limit)
        results["latency"] = run_isolated(mod, "stage_latency", str(work / "d"), args.precision)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours, raw, rawb = results["rsi_rag"], results["raw_encode"], results["raw_encode_bf16"]
    print(
        f"\nSciFact ingestion ({ours['docs']} documents, {ours['chunks']} chunks; "
        f"rsi_rag encodes in {ours['precision']})"
    )
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
    print(
        f"{'(a) raw encode of the documents, bf16':<38}{rawb['docs_per_s']:>9.1f}{'':>10}"
        f"{rawb['seconds']:>9.1f}{rawb['peak_rss_mb']:>9.0f}"
    )
    print(
        f"{'(a) raw encode of the chunks, bf16':<38}{'':>9}{rawb['chunks_per_s']:>10.1f}"
        f"{rawb['chunk_seconds']:>9.1f}"
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
    results["ratio_vs_raw_bf16_docs"] = ours["docs_per_s"] / rawb["docs_per_s"]
    results["ratio_vs_raw_bf16_chunks"] = ours["chunks_per_s"] / rawb["chunks_per_s"]
    print(
        f"ratio vs (a) under the same bf16 autocast, docs/s: "
        f"{results['ratio_vs_raw_bf16_docs']:.2f}; chunks/s: "
        f"{results['ratio_vs_raw_bf16_chunks']:.2f}"
    )
    lat = results["latency"]
    results["latency_ratio_p50"] = lat["rag_p50_ms"] / lat["raw_p50_ms"]
    print(f"\nRetrieval latency over {lat['queries']} test claims (k=10)")
    print(
        f"  RAG.retrieve        p50 {lat['rag_p50_ms']:.2f} ms  p95 {lat['rag_p95_ms']:.2f} ms"
        f"  peak {lat['peak_rss_mb']:.0f} MB"
    )
    print(f"  raw encode + FAISS  p50 {lat['raw_p50_ms']:.2f} ms  p95 {lat['raw_p95_ms']:.2f} ms")
    print(
        f"  same, bf16 autocast p50 {lat['raw_bf16_p50_ms']:.2f} ms  "
        f"p95 {lat['raw_bf16_p95_ms']:.2f} ms  (rsi_rag encodes in {lat['precision']})"
    )
    print(f"  ratio p50 {results['latency_ratio_p50']:.2f} (target <= 1.25)")
    print(f"  dense nDCG@10 of RAG.retrieve on these claims: {lat['ndcg@10']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
