"""LoRA adapters per collection over one shared base model, hot-swapped while serving.

The base model is loaded once (by :class:`~rsi_rag.generate.hf.HFGenerator`); peft injects
every loaded adapter into it under its own name. At rest the adapter layers are disabled,
so the plain base generator keeps producing base outputs; a request for an adapter
enables its layers only while it holds the base model's generation lock. Adapters are
reference-counted: unloading one that requests are still using is deferred until the
last of them finishes, which is what lets a promotion or rollback swap the champion
without failing requests in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from rsi_rag.errors import ModelError, ModelNotFoundError
from rsi_rag.generate.base import Generator, Message
from rsi_rag.generate.hf import HFGenerator, generation_lock

__all__ = [
    "ADAPTER_META_FILE",
    "AdapterGenerator",
    "AdapterManager",
    "base_fingerprint",
    "check_adapter_folder",
]

ADAPTER_META_FILE = "rsi_adapter.json"
_WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")


def base_fingerprint(model: Any) -> str:
    """A short hash identifying base weights: shapes from the config plus a weight sample.

    Two models with the same architecture but different weights get different
    fingerprints, so an adapter trained over another checkpoint of the same family is
    refused too.
    """
    import torch

    cfg = model.config
    dims = [
        getattr(cfg, name, None)
        for name in (
            "model_type",
            "hidden_size",
            "num_hidden_layers",
            "vocab_size",
            "num_attention_heads",
            "intermediate_size",
        )
    ]
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        sample = emb[:64].detach().float().cpu().numpy().round(4).tobytes()
    return hashlib.sha1(json.dumps(dims).encode() + sample).hexdigest()[:16]


def check_adapter_folder(path: str | Path, fingerprint: str | None = None) -> dict[str, Any]:
    """Validate an adapter folder before loading it; returns its peft config.

    Raises:
        ModelNotFoundError: The folder or its weights are missing.
        ModelError: The config does not parse, is not LoRA, or the adapter was trained
            over another base model than ``fingerprint``.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"adapter folder {str(folder)!r} does not exist; train one with "
            "'rsi_rag.loop.train_generator' or roll the collection back"
        )
    cfg_file = folder / "adapter_config.json"
    try:
        config = json.loads(cfg_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"adapter config {str(cfg_file)!r} is missing or not valid JSON ({exc}); the "
            "adapter folder is corrupt: retrain it or roll back to another version"
        ) from exc
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        raise ModelError(
            f"adapter {str(folder)!r} is not a LoRA adapter (peft_type="
            f"{config.get('peft_type') if isinstance(config, dict) else config!r}); only LoRA "
            "adapters are served"
        )
    if not any((folder / f).is_file() for f in _WEIGHT_FILES):
        raise ModelNotFoundError(
            f"adapter {str(folder)!r} has no weights file ({' or '.join(_WEIGHT_FILES)}); "
            "retrain it or roll back to another version"
        )
    meta_file = folder / ADAPTER_META_FILE
    if fingerprint is not None and meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text())
        except ValueError as exc:
            raise ModelError(f"adapter metadata {str(meta_file)!r} is not valid JSON") from exc
        theirs = meta.get("base_fingerprint")
        if theirs and theirs != fingerprint:
            raise ModelError(
                f"adapter {str(folder)!r} was trained over base model "
                f"{meta.get('base_model', '?')!r} (fingerprint {theirs}), not over the served "
                f"base model (fingerprint {fingerprint}); retrain it over the served base model"
            )
    return config


class AdapterManager:
    """Loads, serves, swaps and unloads LoRA adapters over one base generator.

    Use :meth:`shared`: peft injects adapters into the model object itself, so every user
    of one loaded base model must go through the same manager.

    Args:
        base: The serving base generator; its model object receives the adapters.
    """

    _SHARED: ClassVar[dict[int, AdapterManager]] = {}
    _SHARED_LOCK = threading.Lock()

    @classmethod
    def shared(cls, base: HFGenerator) -> AdapterManager:
        """The one manager of ``base``'s loaded model."""
        model = base.model
        with cls._SHARED_LOCK:
            found = cls._SHARED.get(id(model))
            if found is None or found.base.model is not model:
                found = cls._SHARED[id(model)] = cls(base)
            return found

    def __init__(self, base: HFGenerator) -> None:
        self.base = base
        self._peft: Any = None
        self._names: dict[str, str] = {}
        self._in_use: dict[str, int] = {}
        self._retired: set[str] = set()
        self._state = threading.Lock()
        self._fingerprint: str | None = None

    @property
    def lock(self) -> Any:
        # The model's one generation lock: plain generations and ours never overlap, so
        # the adapter layers switched on for us are never seen by a base request.
        return generation_lock(self.base.model)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = base_fingerprint(self.base.model)
        return self._fingerprint

    def loaded(self) -> list[str]:
        """Versions currently loaded (including ones retired but still in use)."""
        with self._state:
            return sorted(self._names)

    def load(self, version: str, path: str | Path) -> None:
        """Load an adapter (idempotent); a bad adapter raises without touching the others."""
        with self._state:
            if version in self._names:
                self._retired.discard(version)
                return
        check_adapter_folder(path, self.fingerprint())
        name = "a" + hashlib.sha1(version.encode()).hexdigest()[:16]
        with self.lock:
            try:
                if self._peft is None:
                    from peft import PeftModel

                    self._peft = PeftModel.from_pretrained(
                        self.base.model, str(path), adapter_name=name, is_trainable=False
                    )
                else:
                    self._peft.load_adapter(str(path), adapter_name=name, is_trainable=False)
            except Exception as exc:
                self._drop(name)
                raise ModelError(
                    f"could not load adapter {version!r} from {str(path)!r}: {exc}. The file "
                    "is corrupt or was trained for another base model; retrain it over the "
                    "served base model or roll back to another version"
                ) from exc
            finally:
                self._rest()
        with self._state:
            self._names[version] = name
            self._in_use.setdefault(version, 0)

    def _drop(self, name: str) -> None:
        if self._peft is not None and name in getattr(self._peft, "peft_config", {}):
            # A half-injected adapter that cannot be deleted stays disabled, never served.
            with contextlib.suppress(Exception):
                self._peft.delete_adapter(name)

    def _rest(self) -> None:
        if self._peft is not None and self._peft.peft_config:
            self._peft.base_model.disable_adapter_layers()

    def unload(self, version: str) -> None:
        """Unload now, or as soon as the requests still using it finish."""
        with self._state:
            if version not in self._names:
                return
            if self._in_use.get(version, 0) > 0:
                self._retired.add(version)
                return
            name = self._names.pop(version)
            self._in_use.pop(version, None)
            self._retired.discard(version)
        with self.lock:
            self._drop(name)
            self._rest()

    def acquire(self, version: str, path: str | Path | None = None) -> str:
        """Pin a version for one request (loading it from ``path`` if needed); its name."""
        while True:
            with self._state:
                name = self._names.get(version)
                if name is not None:
                    self._in_use[version] += 1
                    return name
            if path is None:
                raise ModelNotFoundError(
                    f"adapter {version!r} is not loaded; load it before serving it"
                )
            self.load(version, path)

    def release(self, version: str) -> None:
        with self._state:
            self._in_use[version] = max(0, self._in_use.get(version, 0) - 1)
            retire = version in self._retired and self._in_use[version] == 0
        if retire:
            self.unload(version)

    def generator(self, version: str, path: str | Path | None = None) -> AdapterGenerator:
        """A :class:`Generator` answering with ``version`` (loaded from ``path`` if needed)."""
        if version not in self._names:
            self.acquire(version, path)
            self.release(version)
        return AdapterGenerator(self, version, path)

    def activate(self, name: str) -> None:
        """Switch the base model to adapter ``name``; call only while holding :attr:`lock`."""
        self._peft.set_adapter(name)
        self._peft.base_model.enable_adapter_layers()

    def deactivate(self) -> None:
        self._rest()

    @contextlib.contextmanager
    def using(self, version: str | None) -> Iterator[Any]:
        """Hold the base model with ``version`` active (``None``: the base alone).

        For scoring a version directly on the model (held-out perplexity); requests wait.
        """
        name = self.acquire(version) if version is not None else None
        try:
            with self.lock:
                if name is not None:
                    self.activate(name)
                try:
                    yield self.base.model
                finally:
                    self.deactivate()
        finally:
            if version is not None:
                self.release(version)

    def export_merged(self, version: str, path: str | Path, target: str | Path) -> Path:
        """Write base plus adapter merged into one plain transformers folder at ``target``.

        A fresh copy of the base weights is merged, so the serving model is untouched.
        """
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        check_adapter_folder(path, self.fingerprint())
        ref = self.base._ref
        out = Path(target)
        try:
            fresh = AutoModelForCausalLM.from_pretrained(ref)
            merged = PeftModel.from_pretrained(fresh, str(path)).merge_and_unload()
            merged.save_pretrained(str(out))
            self.base.tokenizer.save_pretrained(str(out))
        except Exception as exc:
            raise ModelError(f"could not export adapter {version!r} merged: {exc}") from exc
        return out


class AdapterGenerator(Generator):
    """The base model answering through one adapter; greedy like the base generator."""

    def __init__(
        self, manager: AdapterManager, adapter_version: str, path: str | Path | None = None
    ) -> None:
        self.manager = manager
        self.adapter_version = adapter_version
        self.path = path

    @property
    def version(self) -> str:
        return f"{self.manager.base.version}+{self.adapter_version}"

    @property
    def context_window(self) -> int:
        return self.manager.base.context_window

    def count_tokens(self, text: str) -> int:
        return self.manager.base.count_tokens(text)

    def run(self, messages: list[Message], **generate_kwargs: Any) -> Any:
        """``model.generate`` under the adapter, returning the output token ids."""
        import torch

        mgr = self.manager
        name = mgr.acquire(self.adapter_version, self.path)
        try:
            input_ids = mgr.base.encode_chat(messages)
            with mgr.lock, torch.inference_mode():
                mgr.activate(name)
                try:
                    return input_ids, mgr.base.model.generate(
                        input_ids=input_ids,
                        attention_mask=torch.ones_like(input_ids),
                        pad_token_id=mgr.base.tokenizer.pad_token_id,
                        **generate_kwargs,
                    )
                finally:
                    mgr.deactivate()
        finally:
            mgr.release(self.adapter_version)

    def _stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        mgr = self.manager
        name = mgr.acquire(self.adapter_version, self.path)
        try:
            input_ids = mgr.base.encode_chat(messages)
        except BaseException:
            mgr.release(self.adapter_version)
            raise
        streamer = TextIteratorStreamer(
            mgr.base.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300
        )
        error: list[BaseException] = []

        def run() -> None:
            # The pin is released by the generating thread, so a consumer that stops
            # reading half-way cannot keep a retired adapter loaded forever.
            try:
                with mgr.lock, torch.inference_mode():
                    mgr.activate(name)
                    try:
                        mgr.base.model.generate(
                            input_ids=input_ids,
                            attention_mask=torch.ones_like(input_ids),
                            max_new_tokens=max_new_tokens,
                            do_sample=False,
                            repetition_penalty=1.1,
                            pad_token_id=mgr.base.tokenizer.pad_token_id,
                            streamer=streamer,
                        )
                    finally:
                        mgr.deactivate()
            except BaseException as exc:  # surfaced to the consumer below
                error.append(exc)
                streamer.end()  # type: ignore[no-untyped-call]
            finally:
                mgr.release(self.adapter_version)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield from (piece for piece in streamer if piece)
        thread.join()
        if error:
            raise ModelError(f"generation failed: {error[0]}") from error[0]
