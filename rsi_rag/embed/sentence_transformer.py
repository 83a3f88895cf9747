"""Embedder backed by a sentence-transformers model folder (or hub id)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsi_rag._packaged import packaged_embedder_path
from rsi_rag.embed.base import Embedder
from rsi_rag.errors import ModelError, ModelNotFoundError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SentenceTransformerEmbedder", "resolve_device"]

_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], Any] = {}


def resolve_device(device: str | None) -> str:
    """``device`` as given, or ``cuda`` when a GPU is visible, else ``cpu``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_sentence_transformer(name_or_path: str, device: str) -> Any:
    """Load (once per process) a SentenceTransformer; clear errors for missing folders."""
    key = (name_or_path, device)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        path = Path(name_or_path)
        looks_local = path.is_absolute() or name_or_path.startswith((".", "~"))
        if looks_local and not path.expanduser().is_dir():
            raise ModelNotFoundError(
                f"embedder folder {name_or_path!r} does not exist; point the embedder setting "
                "at a sentence-transformers folder, or leave it unset for the packaged MiniLM"
            )
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(
                str(path.expanduser()) if looks_local else name_or_path, device=device
            )
        except Exception as exc:
            raise ModelError(
                f"could not load embedder {name_or_path!r}: {exc}. Check that the folder "
                "holds a complete sentence-transformers model (modules.json, config, weights)"
            ) from exc
        _LOADED[key] = model
        return model


class SentenceTransformerEmbedder(Embedder):
    """Embeds with a sentence-transformers model.

    Args:
        name_or_path: A model folder or hub id; ``None`` for the packaged MiniLM-L6.
        device: ``cpu``, ``cuda`` or ``None`` (automatic).
        version: The identifier recorded with indexes; derived from the path if omitted.
        precision: ``"auto"``, ``"fp32"`` or ``"bf16"`` (see :mod:`rsi_rag.embed.precision`).
    """

    #: Calls with fewer texts encode in float32 whatever the precision.
    bf16_min_batch = 16

    def __init__(
        self,
        name_or_path: str | None = None,
        device: str | None = None,
        version: str | None = None,
        precision: str = "auto",
    ) -> None:
        self.name_or_path = str(name_or_path or packaged_embedder_path())
        self._device = device
        self._precision = precision
        self._resolved: str | None = None
        self._version = version
        self._model: Any = None
        self._backend: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = load_sentence_transformer(self.name_or_path, resolve_device(self._device))
        return self._model

    @property
    def dim(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def version(self) -> str:
        if self._version is None:
            digest = hashlib.sha1(self.name_or_path.encode()).hexdigest()[:8]
            self._version = f"{Path(self.name_or_path).name or 'embedder'}-{digest}"
        return self._version

    @property
    def precision(self) -> str:
        """The arithmetic encoding runs in: ``"fp32"`` or ``"bf16"``."""
        if self._resolved is None:
            from rsi_rag.embed.precision import resolve_precision

            self._resolved = resolve_precision(self._precision, str(self.model.device))
        return self._resolved

    def _encode(self, texts: list[str], *, batch_size: int, show_progress: bool) -> np.ndarray:
        import numpy as np

        from rsi_rag.embed.precision import autocast

        # bfloat16 pays off on batches; a query or two is faster in float32 (autocast
        # re-casts the weights on every call), and the two agree to a cosine above 0.999.
        arith = self.precision if len(texts) >= self.bf16_min_batch else "fp32"
        with autocast(arith, str(self.model.device)):
            out = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        vectors = np.asarray(out, dtype=np.float32)
        if arith != "fp32" and len(vectors):
            # Unit length in float32, whatever precision the last products ran in.
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.where(norms > 0, norms, 1.0)
        return vectors

    def _tokenize(self, text: str) -> list[str]:
        # The Rust backend directly (the chunker calls this for every candidate split), on
        # a copy without the model's truncation, which would hide long texts' true length.
        if self._backend is None:
            import copy

            backend = getattr(self.model.tokenizer, "backend_tokenizer", None)
            if backend is None:
                return list(self.model.tokenizer.tokenize(text))
            backend = copy.deepcopy(backend)
            backend.no_truncation()
            backend.no_padding()
            self._backend = backend
        return list(self._backend.encode(text, add_special_tokens=False).tokens)
