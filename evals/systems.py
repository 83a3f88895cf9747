"""Systems the harness evaluates: collections of a RAG, a plain llama-index pipeline, and
the base generator given gold or retrieved context."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from rsi_rag.evaluation.evaluators import SearchFn
from rsi_rag.evaluation.types import AnswerRecord, CorpusEntry, QAExample
from rsi_rag.types import Hit, SourceDocument

__all__ = ["gold_context_answerer", "ingest_corpus", "llama_index_search", "passage_text"]


def passage_text(entry: CorpusEntry) -> str:
    """The text ingested for a passage: its title, when it has one, then its text."""
    return f"{entry.title}\n\n{entry.text}" if entry.title else entry.text


def ingest_corpus(rag: Any, collection: str, corpus: Mapping[str, CorpusEntry]) -> int:
    """Ingest passages with their id as source id, unless the collection already holds them.

    Returns:
        The number of passages added.
    """
    names = {c.name for c in rag.collections()}
    if collection in names:
        have = {d.source for d in rag.documents(collection)}
        todo = [e for pid, e in corpus.items() if pid not in have]
    else:
        todo = list(corpus.values())
    if not todo:
        return 0
    docs = (
        SourceDocument(e.id, passage_text(e), {"doc_id": e.document, "title": e.title})
        for e in todo
    )
    report = rag.ingest_documents(docs, collection, total=len(todo))
    return len(report.added) + len(report.updated)


def llama_index_search(
    corpus: Mapping[str, CorpusEntry], model_path: str, *, device: str = "cpu"
) -> SearchFn:
    """A plain llama-index pipeline: default node parser, HuggingFace embedding, FAISS store.

    Passages are ranked by their best node, as for the RAG collections.
    """
    import faiss
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    embed = HuggingFaceEmbedding(model_name=model_path, device=device, embed_batch_size=64)
    Settings.embed_model = embed
    Settings.llm = None
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(len(embed.get_text_embedding("x"))))
    docs = [Document(text=passage_text(e), id_=e.id) for e in corpus.values()]
    index = VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed
    )

    def search(query: str, k: int) -> list[tuple[str, float]]:
        nodes = index.as_retriever(similarity_top_k=k * 2).retrieve(query)
        out: dict[str, float] = {}
        for n in nodes:
            pid = n.node.ref_doc_id or n.node.node_id
            out.setdefault(str(pid), float(n.score or 0.0))
        return list(out.items())[:k]

    return search


def gold_context_answerer(
    generator: Any,
    corpus: Mapping[str, CorpusEntry],
    *,
    max_new_tokens: int = 64,
    context: Callable[[QAExample], list[str]] | None = None,
) -> Callable[[QAExample], AnswerRecord]:
    """Answer with the serving prompt, given the question's gold passages as the context."""
    from rsi_rag.generate.citations import extract_citations, is_abstention
    from rsi_rag.generate.prompts import build_messages

    def answer(ex: QAExample) -> AnswerRecord:
        pids = context(ex) if context else list(ex.gold_pids)
        hits = [
            Hit(i, i, pid, 1.0, corpus[pid].text) for i, pid in enumerate(pids) if pid in corpus
        ]
        start = time.perf_counter()
        text = generator.generate(build_messages(ex.question, hits), max_new_tokens).strip()
        ms = (time.perf_counter() - start) * 1000
        abstained = is_abstention(text)
        cited = () if abstained else tuple(c.source for c in extract_citations(text, hits))
        evidence = tuple(h.text for h in hits if h.source in cited) or tuple(h.text for h in hits)
        return AnswerRecord(text, abstained, cited, evidence, ms)

    return answer
