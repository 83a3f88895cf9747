"""Generator backed by a transformers causal LM (greedy decoding, token streaming)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rsi_rag.errors import ModelError, ValidationError
from rsi_rag.generate.base import Generator, Message
from rsi_rag.generate.models import resolve_generator

__all__ = ["HFGenerator", "generation_lock", "load_causal_lm"]

_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], tuple[Any, Any]] = {}
_GEN_LOCKS: dict[int, threading.Lock] = {}


def generation_lock(model: Any) -> threading.Lock:
    """The lock serialising generation on one loaded model, shared by all its users.

    Adapters switched on for one request must never be seen by another one, whichever
    generator object the other request came through.
    """
    with _LOAD_LOCK:
        return _GEN_LOCKS.setdefault(id(model), threading.Lock())


def load_causal_lm(ref: str, device: str) -> tuple[Any, Any]:
    """Load (once per process) a causal LM and its tokenizer."""
    key = (ref, device)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer: Any = AutoTokenizer.from_pretrained(ref)
            model: Any = AutoModelForCausalLM.from_pretrained(ref)
        except Exception as exc:
            raise ModelError(
                f"could not load generator {ref!r}: {exc}. Check that the folder holds a "
                "complete transformers causal-LM (config.json, tokenizer, weights)"
            ) from exc
        model.to(device)
        model.eval()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        _LOADED[key] = (model, tokenizer)
        return model, tokenizer


class HFGenerator(Generator):
    """A transformers causal LM with a chat template.

    Args:
        name_or_path: Folder or hub id; ``None`` for the packaged SmolLM2-135M-Instruct.
        device: ``cpu``, ``cuda`` or ``None`` (automatic).
        version: Identifier recorded with answers; derived from the path if omitted.
    """

    def __init__(
        self, name_or_path: str | None = None, device: str | None = None, version: str | None = None
    ) -> None:
        self._spec = name_or_path
        self._device = device
        self._version = version
        self._model: Any = None
        self._tokenizer: Any = None
        self._gen_lock = threading.Lock()

    def _load(self) -> None:
        if self._model is None:
            from rsi_rag.embed.sentence_transformer import resolve_device

            ref = resolve_generator(self._spec)
            self._ref = ref
            self._model, self._tokenizer = load_causal_lm(ref, resolve_device(self._device))
            self._gen_lock = generation_lock(self._model)

    @property
    def model(self) -> Any:
        self._load()
        return self._model

    @property
    def tokenizer(self) -> Any:
        self._load()
        return self._tokenizer

    @property
    def version(self) -> str:
        if self._version is None:
            self._load()
            name = Path(self._ref).name or "generator"
            self._version = f"{name}-{hashlib.sha1(self._ref.encode()).hexdigest()[:8]}"
        return self._version

    @property
    def context_window(self) -> int:
        n = getattr(self.model.config, "max_position_embeddings", None)
        return int(n) if n else 2048

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_chat(self, messages: list[Message]) -> Any:
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
        if ids.shape[1] >= self.context_window:
            raise ValidationError(
                f"prompt is {ids.shape[1]} tokens, over the model's context window of "
                f"{self.context_window}; lower context_k or max_context_tokens"
            )
        return ids.to(self.model.device)

    def _stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        input_ids = self.encode_chat(messages)
        streamer: Any = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300
        )
        error: list[BaseException] = []

        def run() -> None:
            try:
                with self._gen_lock, torch.inference_mode():
                    self.model.generate(
                        input_ids=input_ids,
                        attention_mask=torch.ones_like(input_ids),
                        max_new_tokens=max_new_tokens,
                        do_sample=False,
                        repetition_penalty=1.1,
                        pad_token_id=self.tokenizer.pad_token_id,
                        streamer=streamer,
                    )
            except BaseException as exc:  # surfaced to the consumer below
                error.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield from (piece for piece in streamer if piece)
        thread.join()
        if error:
            raise ModelError(f"generation failed: {error[0]}") from error[0]
