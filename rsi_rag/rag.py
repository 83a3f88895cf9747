"""The in-process facade: :class:`RAG`."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rsi_rag.config import RAGConfig
from rsi_rag.embed.base import Embedder
from rsi_rag.errors import (
    ModelError,
    ModelNotFoundError,
    UnknownDocumentError,
    ValidationError,
)
from rsi_rag.generate.base import Generator
from rsi_rag.generate.citations import extract_citations, is_abstention
from rsi_rag.generate.prompts import ABSTAIN_TEXT, build_messages, select_context
from rsi_rag.generate.reading import read_each
from rsi_rag.index.manager import IndexManager
from rsi_rag.ingest.pipeline import Ingestor, load_files
from rsi_rag.registry.registry import ModelRegistry
from rsi_rag.retrieve.base import AccessFilter, Retriever
from rsi_rag.retrieve.bm25 import BM25Retriever
from rsi_rag.retrieve.dense import DenseRetriever
from rsi_rag.retrieve.hybrid import HybridRetriever
from rsi_rag.store.catalog import Catalog, CollectionRef
from rsi_rag.types import (
    Answer,
    CollectionInfo,
    DocumentInfo,
    Hit,
    IngestFailure,
    IngestReport,
    SourceDocument,
)

__all__ = ["RAG", "AnswerStream", "default_data_dir"]

DEFAULT_TENANT = "default"
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def default_data_dir() -> Path:
    """``$RSI_RAG_DATA_DIR``, else ``./rsi_rag_data``."""
    return Path(os.environ.get("RSI_RAG_DATA_DIR", "rsi_rag_data"))


def _check_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 128 or set(value) - _NAME_CHARS:
        raise ValidationError(
            f"{kind} name {value!r} is invalid; use 1-128 letters, digits, '-', '_' or '.'"
        )
    return value


class AnswerStream:
    """Iterate for the answer's text pieces; :attr:`answer` holds the result afterwards."""

    def __init__(self, pieces: Iterator[str], finish: Any) -> None:
        self._pieces = pieces
        self._finish = finish
        self._answer: Answer | None = None
        self.hits: tuple[Hit, ...] = ()

    def __iter__(self) -> Iterator[str]:
        text: list[str] = []
        for piece in self._pieces:
            text.append(piece)
            yield piece
        self._answer = self._finish("".join(text))

    @property
    def answer(self) -> Answer:
        if self._answer is None:
            for _ in self:
                pass
        assert self._answer is not None
        return self._answer


class RAG:
    """Ingest, retrieve and answer over collections in a data directory.

    Args:
        data_dir: Folder for the catalog, indexes and models (created if missing);
            defaults to ``$RSI_RAG_DATA_DIR`` or ``./rsi_rag_data``.
        config: Library settings; defaults to ``data_dir/config.json`` when present.
        embedder: An embedder instance (tests pass a fake); built from config otherwise.
        generator: A generator instance; built from config on first use otherwise.
        catalog_url: A SQLAlchemy URL for the catalog instead of the SQLite file.
        tenant: The tenant used when a call names none.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        config: RAGConfig | None = None,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        catalog_url: str | None = None,
        tenant: str = DEFAULT_TENANT,
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg_path = self.data_dir / "config.json"
        if config is None:
            config = RAGConfig.load(cfg_path) if cfg_path.exists() else RAGConfig()
        if not cfg_path.exists():
            config.save(cfg_path)
        self.config = config
        self.tenant = _check_name("tenant", tenant)
        self.catalog = Catalog(catalog_url) if catalog_url else Catalog.for_data_dir(self.data_dir)
        self.registry = ModelRegistry(self.catalog)
        self.indexes = IndexManager(self.data_dir / "indexes", self.catalog)
        self.access = AccessFilter(self.catalog)
        self._bm25 = BM25Retriever(self.catalog, self.access)
        self._lock = threading.Lock()
        self._embedder = embedder
        self._generator = generator
        self._embedders: dict[str, Embedder] = {}
        if embedder is not None:
            self._embedders[embedder.version] = embedder
        # A rsi_rag.generate.verify.Verifier here turns inference-time verification on.
        self.verifier: Any = None
        self._adapters: Any = None

    # -- models --------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The default embedder (used for new collections)."""
        with self._lock:
            if self._embedder is None:
                from rsi_rag.embed.sentence_transformer import SentenceTransformerEmbedder

                self._embedder = SentenceTransformerEmbedder(
                    self.config.embedder,
                    device=self.config.device,
                    precision=self.config.precision,
                )
                self._embedders[self._embedder.version] = self._embedder
            return self._embedder

    @property
    def generator(self) -> Generator:
        with self._lock:
            if self._generator is None:
                from rsi_rag.generate.hf import HFGenerator

                self._generator = HFGenerator(self.config.generator, device=self.config.device)
            return self._generator

    def _generator_version(self) -> str:
        if self._generator is not None:
            return self._generator.version
        return "default"

    @property
    def adapters(self) -> Any:
        """The :class:`~rsi_rag.generate.adapters.AdapterManager` over the base generator."""
        gen = self.generator
        with self._lock:
            if self._adapters is None:
                from rsi_rag.generate.adapters import AdapterManager
                from rsi_rag.generate.hf import HFGenerator

                if not isinstance(gen, HFGenerator):
                    raise ModelError(
                        f"LoRA adapters need a transformers generator, not {type(gen).__name__}; "
                        "roll the collection's generator back to 'base'"
                    )
                self._adapters = AdapterManager.shared(gen)
            return self._adapters  # type: ignore[no-any-return]

    def generator_for(self, col: CollectionRef) -> Generator:
        """The collection's champion generator: the base model, or it plus an adapter."""
        if col.generator_version in ("base", ""):
            return self.generator
        version = col.generator_version
        return self.adapters.generator(  # type: ignore[no-any-return]
            version, self.registry.get(version).path
        )

    def embedder_for(self, version: str) -> Embedder:
        """The embedder of a retriever version (loaded from the registry on first use)."""
        found = self._embedders.get(version)
        if found is not None:
            return found
        default = self.embedder
        if default.version == version:
            return default
        info = self.registry.find(version)
        if info is None:
            raise ModelNotFoundError(
                f"retriever version {version!r} is not registered and is not the configured "
                "embedder; register it or roll the collection back to a known version"
            )
        from rsi_rag.embed.sentence_transformer import SentenceTransformerEmbedder

        emb = SentenceTransformerEmbedder(
            info.path, device=self.config.device, version=version, precision=self.config.precision
        )
        with self._lock:
            self._embedders[version] = emb
        return emb

    def register_embedder(self, embedder: Embedder) -> None:
        """Make an embedder instance available for its version (challengers, fakes)."""
        with self._lock:
            self._embedders[embedder.version] = embedder

    # -- collections ---------------------------------------------------------------------

    def _tenant(self, tenant: str | None) -> str:
        return _check_name("tenant", tenant) if tenant is not None else self.tenant

    def collection(self, name: str, tenant: str | None = None) -> CollectionRef:
        """Resolve an existing collection (raises ``UnknownCollectionError``)."""
        return self.catalog.get_collection(self._tenant(tenant), _check_name("collection", name))

    def create_collection(self, name: str, tenant: str | None = None) -> CollectionRef:
        """Create a collection (or return the existing one) with the default models."""
        emb = self.embedder
        ref = self.catalog.ensure_collection(
            self._tenant(tenant), _check_name("collection", name), emb.version, "base"
        )
        path = getattr(emb, "name_or_path", f"instance:{emb.version}")
        self.registry.register(
            emb.version,
            "retriever",
            str(path),
            status="base",
            exist_ok=True,
            config={"embedder": self.config.embedder},
        )
        return ref

    def collections(self, tenant: str | None = None) -> list[CollectionInfo]:
        rows = self.catalog.list_collections(self._tenant(tenant))
        return [CollectionInfo(**r) for r in rows]

    def documents(self, collection: str, tenant: str | None = None) -> list[DocumentInfo]:
        return self.catalog.documents(self.collection(collection, tenant).id)

    # -- ingestion -----------------------------------------------------------------------

    def _ingestor(self, col: CollectionRef) -> Ingestor:
        from rsi_rag.ingest.chunker import Chunker

        emb = self.embedder_for(col.retriever_version)
        chunker = Chunker(self.config.chunk_size, self.config.chunk_overlap, emb.tokenize)
        batch = self.config.embed_batch_size
        return Ingestor(
            self.catalog, self.indexes, emb, chunker, batch_chunks=batch * 8, embed_batch_size=batch
        )

    def ingest(
        self,
        paths: str | Path | Sequence[str | Path],
        collection: str,
        *,
        tenant: str | None = None,
        acl: Sequence[str] = (),
        progress: bool = False,
    ) -> IngestReport:
        """Ingest files and folders; bad files are reported in the result and skipped."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        col = self.create_collection(collection, tenant)
        failures: list[IngestFailure] = []
        docs = load_files(paths, self.config.max_file_bytes, failures, tuple(acl))
        return self._ingestor(col).ingest(col, docs, failures=failures, progress=progress)

    def ingest_documents(
        self,
        documents: Iterable[SourceDocument],
        collection: str,
        *,
        tenant: str | None = None,
        progress: bool = False,
        total: int | None = None,
    ) -> IngestReport:
        """Ingest documents given as text (connectors and benchmarks use this)."""
        col = self.create_collection(collection, tenant)
        failures: list[IngestFailure] = []

        def checked() -> Iterator[SourceDocument]:
            limit = self.config.max_file_bytes
            for d in documents:
                if not isinstance(d, SourceDocument):
                    raise ValidationError(
                        f"ingest_documents takes SourceDocument items, got {type(d).__name__}"
                    )
                size = len(d.text.encode("utf-8"))
                if size > limit:
                    failures.append(
                        IngestFailure(
                            d.source_id,
                            "file_too_large",
                            f"{d.source_id} is {size} bytes, over the limit of {limit}",
                        )
                    )
                    continue
                if not d.text.strip():
                    failures.append(
                        IngestFailure(d.source_id, "empty_file", f"{d.source_id} holds no text")
                    )
                    continue
                yield d

        return self._ingestor(col).ingest(
            col, checked(), failures=failures, progress=progress, total=total
        )

    def delete_document(
        self,
        collection: str,
        *,
        document_id: int | None = None,
        source: str | None = None,
        tenant: str | None = None,
    ) -> int:
        """Delete a document by id or source; returns how many chunks were removed."""
        import numpy as np

        col = self.collection(collection, tenant)
        if source is not None and Path(source).exists():
            source = str(Path(source).resolve())
        _, removed = self.catalog.delete_document(col, document_id=document_id, source=source)
        version = col.retriever_version
        index = self.indexes.get(col, version, self.embedder_for(version))
        with self.indexes.lock(col.id, version):
            index.remove(np.asarray(removed, dtype=np.int64))
            index.save()
            self.indexes.mark_current(
                col.id, version, index, self.catalog.collection_by_id(col.id).revision
            )
        return len(removed)

    def delete_documents(
        self, collection: str, sources: Sequence[str], *, tenant: str | None = None
    ) -> int:
        """Delete many documents by source, writing the index once; returns how many existed.

        Sources without a live document are skipped, so a repeated deletion is harmless
        (connectors delete every item gone from their source this way).
        """
        import numpy as np

        col = self.collection(collection, tenant)
        removed: list[int] = []
        deleted = 0
        for source in sources:
            try:
                _, chunk_ids = self.catalog.delete_document(col, source=source)
            except UnknownDocumentError:
                continue
            removed.extend(chunk_ids)
            deleted += 1
        if deleted:
            version = col.retriever_version
            index = self.indexes.get(col, version, self.embedder_for(version))
            with self.indexes.lock(col.id, version):
                index.remove(np.asarray(removed, dtype=np.int64))
                index.save()
                self.indexes.mark_current(
                    col.id, version, index, self.catalog.collection_by_id(col.id).revision
                )
        return deleted

    # -- retrieval and answers -----------------------------------------------------------

    def retriever(self, col: CollectionRef, mode: str | None = None) -> Retriever:
        mode = mode or self.config.retrieval_mode
        dense = DenseRetriever(
            self.catalog, self.indexes, self.embedder_for(col.retriever_version), self.access
        )
        if mode == "dense":
            return dense
        if mode == "hybrid":
            return HybridRetriever(dense, self._bm25, rrf_k=self.config.rrf_k)
        if mode == "bm25":
            return self._bm25
        raise ValidationError(f"mode must be 'dense', 'hybrid' or 'bm25', got {mode!r}")

    def retrieve(
        self,
        query: str,
        collection: str,
        k: int | None = None,
        *,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> list[Hit]:
        """Top ``k`` chunks for ``query``; ``principals`` restricts to what they may read."""
        col = self.collection(collection, tenant)
        return self.retriever(col, mode).retrieve(
            col, query, self.config.top_k if k is None else k, principals
        )

    def _prepare(
        self,
        question: str,
        collection: str,
        k: int | None,
        tenant: str | None,
        principals: Sequence[str] | None,
        mode: str | None,
    ) -> tuple[CollectionRef, list[Hit], list[Hit], bool]:
        col = self.collection(collection, tenant)
        hits = self.retriever(col, mode).retrieve(
            col, question, self.config.top_k if k is None else k, principals
        )
        best = max((h.dense_score for h in hits if h.dense_score is not None), default=None)
        relevant = bool(hits) and (best is None or best >= self.config.abstain_threshold)
        context: list[Hit] = []
        if relevant:
            gen = self.generator
            budget = self.config.max_context_tokens - gen.count_tokens(question) - 96
            context = select_context(hits, self.config.context_k, budget, gen.count_tokens)
        return col, hits, context, relevant

    def _finish(
        self,
        col: CollectionRef,
        question: str,
        hits: list[Hit],
        context: list[Hit],
        text: str,
        relevant: bool,
        principals: Sequence[str] | None,
        started: float,
    ) -> Answer:
        text = text.strip()
        abstained = not relevant or is_abstention(text)
        citations = () if abstained else extract_citations(text, context)
        if abstained:
            text = ABSTAIN_TEXT
        versions = {
            "retriever": col.retriever_version,
            "generator": col.generator_version,
            "base_generator": self._generator_version() if relevant else "not-run",
        }
        iid = self.catalog.log_interaction(
            col,
            kind="ask",
            query=question,
            principals=list(principals) if principals is not None else None,
            retrieved_chunk_ids=[h.chunk_id for h in hits],
            retrieved_scores=[h.score for h in hits],
            answer=text,
            cited_chunk_ids=[c.chunk_id for c in citations],
            abstained=abstained,
            model_versions=versions,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        return Answer(text, tuple(citations), abstained, tuple(hits), versions, iid)

    def stream(
        self,
        question: str,
        collection: str,
        *,
        k: int | None = None,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> AnswerStream:
        """Answer as a stream of text pieces; the final :class:`Answer` follows."""
        started = time.perf_counter()
        col, hits, context, relevant = self._prepare(
            question, collection, k, tenant, principals, mode
        )
        if self.verifier is not None:
            col, hits, context, relevant = self.verifier.maybe_rewrite(
                self,
                question,
                collection,
                (col, hits, context, relevant),
                k,
                tenant,
                principals,
                mode,
            )
        if relevant and self.verifier is not None:
            pieces: Iterator[str] = self.verifier.stream(
                question, context, self.generator_for(col), self.config.max_new_tokens
            )
        elif relevant and self.config.reading == "per_passage":
            text, read_from, _ = read_each(
                self.generator_for(col), question, context, self.config.max_new_tokens
            )
            # Citation markers of the answer number the one passage it was read from.
            context = [read_from] if read_from is not None else []
            pieces = iter([text])
        elif relevant:
            pieces = self.generator_for(col).stream(
                build_messages(question, context), self.config.max_new_tokens
            )
        else:
            pieces = iter([ABSTAIN_TEXT])

        def finish(text: str) -> Answer:
            return self._finish(col, question, hits, context, text, relevant, principals, started)

        stream = AnswerStream(pieces, finish)
        stream.hits = tuple(hits)
        return stream

    def ask(
        self,
        question: str,
        collection: str,
        *,
        k: int | None = None,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> Answer:
        """Answer ``question`` from the collection, with citations, or abstain."""
        return self.stream(
            question, collection, k=k, tenant=tenant, principals=principals, mode=mode
        ).answer

    def feedback(
        self,
        interaction_id: int,
        *,
        rating: int | None = None,
        correction: str | None = None,
        chosen_chunk_ids: Sequence[int] = (),
        rejected_chunk_ids: Sequence[int] = (),
    ) -> int:
        """Record feedback on an answer; returns the feedback id."""
        if rating is not None and (not isinstance(rating, int) or rating not in (-1, 0, 1)):
            raise ValidationError(f"rating must be -1, 0 or 1, got {rating!r}")
        if correction is not None and not isinstance(correction, str):
            raise ValidationError("correction must be a string")
        inter = self.catalog.interaction(interaction_id)
        known = set(inter["retrieved_chunk_ids"])
        unknown = [c for c in [*chosen_chunk_ids, *rejected_chunk_ids] if c not in known]
        if unknown:
            raise ValidationError(
                f"chunk ids {unknown} were not retrieved for interaction {interaction_id}; "
                f"choose among {sorted(known)}"
            )
        return self.catalog.add_feedback(
            interaction_id,
            rating=rating,
            correction=correction,
            chosen_chunk_ids=list(chosen_chunk_ids),
            rejected_chunk_ids=list(rejected_chunk_ids),
        )

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> RAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
