"""synthesize: label-free training pairs from the corpus, each one verified.

Sources: questions the champion generator writes for sampled chunks (batched), and
cheaper signals, inverse-cloze crops (a sentence of the chunk as the query) and titles.
Every candidate is checked: the current retriever ranks its source chunk in the top k
(round trip), it is not a near-duplicate of a kept query, and its document still exists.
Candidates are cached by chunk content, generator and method, kept or filtered, so a
later cycle only generates for new or changed chunks.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from rsi_rag.loop.collect import held_out
from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.examples import add_examples
from rsi_rag.store.models import Chunk, Document, TrainingExample

if TYPE_CHECKING:
    from rsi_rag.generate.base import Generator, Message
    from rsi_rag.rag import RAG
    from rsi_rag.store.catalog import CollectionRef

__all__ = ["CLOZE_METHODS", "SynthesisReport", "cloze_positive", "generate_questions", "synthesize"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")  # a line break ends a title
_PROMPT = (
    "Write one short question that the passage below answers. Reply with the question "
    "only.\n\n[1] {text}"
)


@dataclass
class SynthesisReport:
    """Counts of one synthesis pass (per method: generated, kept, and why others failed)."""

    generated: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    filtered: dict[str, int] = field(default_factory=dict)
    cached_chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "kept": self.kept,
            "filtered": self.filtered,
            "cached_chunks": self.cached_chunks,
        }


def _cache_key(method: str, writer: str, text: str) -> str:
    return hashlib.sha256(f"{method}\x00{writer}\x00{text}".encode()).hexdigest()[:48]


def _clean_question(text: str) -> str | None:
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(question|q)\s*[:.-]\s*", "", line, flags=re.I).strip(" \"'")
    line = re.sub(r"\s*\[\d+\]\.?$", "", line).strip()
    n = len(line.split())
    return line if 3 <= n <= 48 else None


def generate_questions(
    generator: Generator, passages: Sequence[str], max_new_tokens: int, batch_size: int
) -> list[str]:
    """One question per passage, generated greedily in left-padded batches."""
    prompts: list[list[Message]] = [
        [{"role": "user", "content": _PROMPT.format(text=p)}] for p in passages
    ]
    model = getattr(generator, "model", None)
    tokenizer = getattr(generator, "tokenizer", None)
    if model is None or tokenizer is None:
        return [generator.generate(m, max_new_tokens) for m in prompts]
    import torch

    out: list[str] = []
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    try:
        for start in range(0, len(prompts), batch_size):
            texts = [
                tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
                for m in prompts[start : start + batch_size]
            ]
            enc = tokenizer(
                texts,
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
                truncation=True,
                max_length=1024,
            ).to(model.device)
            with torch.inference_mode():
                ids = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    repetition_penalty=1.1,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = ids[:, enc["input_ids"].shape[1] :]
            out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
    return out


CLOZE_METHODS = ("crop", "title")
"""Methods whose query is a span of its own source chunk (inverse cloze)."""


def cloze_positive(query: str, text: str, keep_fraction: float) -> str:
    """The passage a cloze query trains against: its chunk without the query's span.

    A crop or a title is copied from the chunk, so against the whole chunk the pair only
    teaches the model to match identical words. With the span removed (inverse cloze
    task), the query has to be matched to its context. A seeded ``keep_fraction`` of the
    pairs keeps the whole chunk, as in the inverse cloze task, so the model still learns
    that exact matches count. A query that is not a span of ``text`` leaves it whole.
    """
    at = text.find(query)
    if at < 0 or not query.strip():
        return text
    draw = int(hashlib.sha256(f"{query}\x00{text}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if draw < keep_fraction:
        return text
    rest = (text[:at] + " " + text[at + len(query) :]).strip()
    rest = re.sub(r"[ \t]+", " ", rest)
    return rest if len(rest.split()) >= 5 else text


def _crop(text: str, rng: random.Random, title: str = "") -> str | None:
    sentences = [
        s for s in _SENTENCE.split(text.strip()) if 5 <= len(s.split()) <= 60 and s != title
    ]
    if len(text.split()) < 20 or not sentences:
        return None
    return rng.choice(sentences)


def synthesize(
    rag: RAG,
    col: CollectionRef,
    config: LoopConfig,
    *,
    cycle: int = 0,
    use_generator: bool = True,
) -> SynthesisReport:
    """Write, verify and store synthetic examples for chunks not synthesized before."""
    catalog = rag.catalog
    rng = random.Random(config.seed * 1_000_003 + cycle)
    writer = rag.generator.version if use_generator and config.questions_per_cycle else ""
    with catalog.session() as s:
        chunks = s.execute(
            select(Chunk.id, Chunk.document_id, Chunk.text, Chunk.meta)
            .where(Chunk.collection_id == col.id)
            .order_by(Chunk.id)
        ).all()
        cached = set(
            s.scalars(
                select(TrainingExample.cache_key).where(
                    TrainingExample.collection_id == col.id, TrainingExample.cache_key.is_not(None)
                )
            )
        )
        kept_queries = list(
            s.scalars(
                select(TrainingExample.query).where(
                    TrainingExample.collection_id == col.id, TrainingExample.status == "active"
                )
            )
        )
    report = SynthesisReport()
    candidates: list[tuple[str, str, str, int, int]] = []  # method, writer, query, chunk, doc
    keys: list[str] = []

    def fresh(method: str, who: str) -> list[Any]:
        rows = [c for c in chunks if _cache_key(method, who, c[2]) not in cached]
        report.cached_chunks += len(chunks) - len(rows)
        return rows

    if writer:
        todo = fresh("question", writer)
        picked = rng.sample(todo, min(config.questions_per_cycle, len(todo)))
        texts = generate_questions(
            rag.generator,
            [c[2] for c in picked],
            config.question_max_tokens,
            config.generation_batch_size,
        )
        for c, q in zip(picked, texts, strict=True):
            keys.append(_cache_key("question", writer, c[2]))
            candidates.append(("question", writer, _clean_question(q) or "", c[0], c[1]))
    if config.crops_per_cycle:
        todo = fresh("crop", "")
        for c in rng.sample(todo, min(config.crops_per_cycle, len(todo))):
            title = str((c[3] or {}).get("title") or "").strip()
            keys.append(_cache_key("crop", "", c[2]))
            candidates.append(("crop", "", _crop(c[2], rng, title) or "", c[0], c[1]))
            if title and len(title.split()) >= 3:
                keys.append(_cache_key("title", "", c[2]))
                candidates.append(("title", "", title, c[0], c[1]))
    rows = _verify(rag, col, config, candidates, keys, kept_queries, cycle, report)
    add_examples(catalog, col.id, rows)
    return report


def _verify(
    rag: RAG,
    col: CollectionRef,
    config: LoopConfig,
    candidates: list[tuple[str, str, str, int, int]],
    keys: list[str],
    kept_queries: list[str],
    cycle: int,
    report: SynthesisReport,
) -> list[dict[str, Any]]:
    import numpy as np

    if not candidates:
        return []
    emb = rag.embedder_for(col.retriever_version)
    index = rag.indexes.get(col, col.retriever_version, emb)
    valid = [i for i, c in enumerate(candidates) if c[2]]
    vectors = emb.encode([candidates[i][2] for i in valid]) if valid else None
    top: dict[int, set[int]] = {}
    if vectors is not None:
        _, ids = index.search(vectors, config.round_trip_k)
        top = {i: set(ids[row].tolist()) for row, i in enumerate(valid)}
    with rag.catalog.session() as s:
        deleted = set(
            s.scalars(
                select(Document.id).where(
                    Document.collection_id == col.id, Document.deleted.is_(True)
                )
            )
        )
        live = set(s.scalars(select(Chunk.id).where(Chunk.collection_id == col.id)))
    seen = {" ".join(q.lower().split()) for q in kept_queries}
    kept_vecs: list[Any] = []
    rows: list[dict[str, Any]] = []
    row_of = {i: r for r, i in enumerate(valid)}
    for i, (method, who, query, chunk_id, doc_id) in enumerate(candidates):
        report.generated[method] = report.generated.get(method, 0) + 1
        norm = " ".join(query.lower().split())
        reason = None
        if not query:
            reason = "malformed"
        elif doc_id in deleted or chunk_id not in live:
            reason = "document deleted"
        elif chunk_id not in top.get(i, set()):
            reason = "round trip failed"
        elif norm in seen:
            reason = "duplicate"
        else:
            vec = vectors[row_of[i]] if vectors is not None else None
            if (
                kept_vecs
                and vec is not None
                and float(np.max(np.stack(kept_vecs) @ vec)) >= config.near_duplicate_cosine
            ):
                reason = "near duplicate"
            elif vec is not None:
                kept_vecs.append(vec)
        if reason is None:
            seen.add(norm)
            report.kept[method] = report.kept.get(method, 0) + 1
        else:
            report.filtered[reason] = report.filtered.get(reason, 0) + 1
        gate = held_out(f"chunk:{chunk_id}", config.synthetic_gate_fraction, config.seed)
        rows.append(
            {
                "query": query or "(none)",
                "positive_chunk_ids": [chunk_id],
                "negative_chunk_ids": [],
                "document_ids": [doc_id],
                "provenance": "synthetic",
                "method": method,
                "written_by": who or method,
                "source_chunk_id": chunk_id,
                "cache_key": keys[i],
                "split": "gate" if gate else "train",
                "status": "active" if reason is None else "filtered",
                "reason": reason,
                "cycle": cycle,
            }
        )
    return rows
