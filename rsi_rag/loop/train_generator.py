"""Train a LoRA adapter for the generator on the serving prompt format.

The loss covers the answer tokens only (the prompt is built by
:func:`rsi_rag.generate.prompts.build_messages`, the one used at serving time). Memory is
kept low for training beside the service: gradient checkpointing, length-bucketed
micro-batches and gradient accumulation. Checkpoints are written atomically (a temporary
folder renamed into place), so a run killed at any point resumes from the last one and
never leaves a half-written adapter where the registry or the server could pick it up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import math
import os
import random
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rsi_rag.errors import ConfigError, ModelError, NotEnoughDataError
from rsi_rag.generate.adapters import ADAPTER_META_FILE, base_fingerprint
from rsi_rag.generate.citations import support
from rsi_rag.generate.prompts import build_messages
from rsi_rag.loop.generator_data import GenExample
from rsi_rag.types import Hit

__all__ = ["LoRATrainingConfig", "TrainResult", "encode_example", "peak_rss_mb", "train_adapter"]


def trim_heap() -> bool:
    """Return the C heap's free memory to the OS (glibc ``malloc_trim``); False where absent."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc.malloc_trim  # noqa: B018  (raises AttributeError off glibc)
        except (OSError, AttributeError):
            _libc = False
    return bool(_libc and _libc.malloc_trim(0))


_libc: Any = None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass(frozen=True)
class LoRATrainingConfig:
    """Settings of one adapter training run.

    Attributes:
        rank: LoRA rank ``r``; ``alpha`` scales the update (``alpha / r``).
        target_modules: Module names receiving LoRA layers.
        max_steps: Optimizer steps; ``None`` runs ``epochs`` passes over the data.
        batch_size: Examples per micro-batch; ``grad_accum`` micro-batches per step.
        max_length: Tokens per example; longer prompts lose the passages that support the
            answer least (the last first among equals).
        save_every: Optimizer steps between checkpoints (0: only at the end).
        top_layers: LoRA only in the last ``top_layers`` transformer blocks (``None``: in
            every block). The backward pass then stops at the first adapted block, so a step
            costs a fraction of a full one; the answer style and the collection's facts are
            learnt in the upper blocks.
        trim_heap: After every optimizer step, hand the C heap's free pages back to the
            operating system (glibc ``malloc_trim``; a no-op elsewhere). Steps of varying
            length otherwise leave freed activations resident, and the process's memory
            grows over a long run although each step needs no more than the first.
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    learning_rate: float = 2e-4
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 2
    grad_accum: int = 4
    max_length: int = 768
    warmup_steps: int = 2
    gradient_checkpointing: bool = True
    save_every: int = 20
    seed: int = 0
    top_layers: int | None = None
    trim_heap: bool = True

    def __post_init__(self) -> None:
        for name in ("rank", "alpha", "epochs", "batch_size", "grad_accum", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("max_steps", "top_layers"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value <= 0
            ):
                raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not self.target_modules or not all(isinstance(m, str) for m in self.target_modules):
            raise ConfigError(
                f"target_modules must name modules such as 'q_proj', got {self.target_modules!r}"
            )
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate!r}")


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced and what it cost."""

    adapter_path: str
    steps: int
    examples: int
    losses: list[float]
    seconds_per_step: float
    peak_rss_mb: float
    resumed_from_step: int = 0
    skipped: int = 0
    fingerprint: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    peak_gpu_mb: float = 0.0
    precision: str = "fp32"


def encode_example(
    tokenizer: Any, ex: GenExample, max_length: int
) -> tuple[list[int], list[int]] | None:
    """Token ids and labels (-100 on the prompt) for one example, or None if it cannot fit."""
    contexts = list(ex.contexts)
    while contexts:
        hits = [Hit(i, 0, "", 0.0, t) for i, t in enumerate(contexts)]
        msgs = build_messages(ex.question, hits)
        prompt = _ids(tokenizer, msgs, add_generation_prompt=True)
        full = _ids(tokenizer, [*msgs, {"role": "assistant", "content": ex.answer}], False)
        if full[: len(prompt)] != prompt:
            raise ModelError(
                "the chat template does not extend the prompt with the answer; the generator's "
                "tokenizer cannot be trained on the serving format"
            )
        if len(full) <= max_length:
            return full, [-100] * len(prompt) + full[len(prompt) :]
        if len(contexts) == 1:
            # One passage still too long: cut its text in proportion and try once more.
            keep = max(200, int(len(contexts[0]) * max_length / len(full)) - 200)
            if keep >= len(contexts[0]):
                return None
            contexts = [contexts[0][:keep]]
            ex = GenExample(ex.question, tuple(contexts), ex.answer, ex.provenance)
            continue
        contexts = drop_least_supporting(contexts, ex.answer)
    return None


def drop_least_supporting(contexts: Sequence[str], answer: str) -> list[str]:
    """``contexts`` without the passage that supports ``answer`` least (the last such one).

    An example over the length budget loses passages; dropping the one that holds the answer
    would leave a target its context no longer supports and teach the model to answer beyond
    its passages. For an abstention target no passage supports it, so the last one goes.
    """
    scores = [support(answer, c) for c in contexts]
    worst = min(range(len(contexts)), key=lambda i: (scores[i], -i))
    return [c for i, c in enumerate(contexts) if i != worst]


def _ids(tokenizer: Any, msgs: list[dict[str, str]], add_generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(
        msgs, add_generation_prompt=add_generation_prompt, tokenize=True, return_dict=True
    )["input_ids"]
    return list(out)


def _first_label(labels: Sequence[int]) -> int:
    """Index of the first supervised (answer) token."""
    return next((i for i, t in enumerate(labels) if t != -100), len(labels))


def _batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Length-bucketed micro-batches in shuffled order: little padding, still random."""
    order = list(range(len(lengths)))
    rng = random.Random(seed)
    rng.shuffle(order)
    window = batch_size * 16
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _atomic_dir(target: Path, write: Callable[[Path], None]) -> None:
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def train_adapter(
    examples: Sequence[GenExample],
    output_dir: str | Path,
    config: LoRATrainingConfig | None = None,
    *,
    base: str | None = None,
    resume: bool = True,
    progress: bool = True,
    manifest: dict[str, Any] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    init_adapter: str | Path | None = None,
    device: str | None = None,
    precision: str = "auto",
) -> TrainResult:
    """Train a LoRA adapter; the finished adapter is ``output_dir/adapter``.

    Args:
        examples: Training examples (see :class:`~rsi_rag.loop.generator_data.ExampleStore`).
        output_dir: Folder for checkpoints and the adapter.
        config: Training settings.
        base: The base causal-LM folder; ``None`` for the packaged SmolLM2.
        resume: Continue from ``output_dir/checkpoint`` when present.
        progress: Show a progress bar.
        manifest: Data manifest stored beside the adapter.
        on_step: Called with (step, loss) after every optimizer step.
        init_adapter: Continue training this adapter (e.g. the champion's) instead of
            starting a new one; its rank and targets then override ``config``'s.
        device: ``cpu``, ``cuda`` or ``None`` (a visible GPU, else the CPU).
        precision: ``"auto"``, ``"fp32"`` or ``"bf16"``. With ``auto`` the forward and
            backward passes run in bfloat16 autocast where the device computes it natively
            (a GPU with bf16 units, a CPU with AMX or AVX512-BF16); weights, optimizer state
            and the loss stay float32.
    """
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

    from rsi_rag.embed.precision import autocast, resolve_precision
    from rsi_rag.embed.sentence_transformer import resolve_device
    from rsi_rag.generate.models import resolve_generator

    cfg = config or LoRATrainingConfig()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    ref = resolve_generator(base)
    tokenizer = AutoTokenizer.from_pretrained(ref)
    encoded = [encode_example(tokenizer, e, cfg.max_length) for e in examples]
    data = [e for e in encoded if e is not None]
    if not data:
        raise NotEnoughDataError(
            f"no training example fits in max_length={cfg.max_length} tokens (of "
            f"{len(examples)} given); add examples or raise max_length"
        )
    torch.manual_seed(cfg.seed)
    model: Any = AutoModelForCausalLM.from_pretrained(ref, dtype=torch.float32)
    fingerprint = base_fingerprint(model)
    dev = resolve_device(device)
    on_gpu = dev.startswith("cuda")
    arith = resolve_precision(precision, dev)
    model.to(dev)
    if on_gpu:
        torch.cuda.reset_peak_memory_stats(dev)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    n_layers = int(model.config.num_hidden_layers)
    if cfg.top_layers is not None and cfg.top_layers > n_layers:
        raise ConfigError(
            f"top_layers={cfg.top_layers} but the model has {n_layers} transformer blocks; "
            f"choose at most {n_layers} or None for every block"
        )
    lora = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        task_type="CAUSAL_LM",
        layers_to_transform=(
            None if cfg.top_layers is None else list(range(n_layers - cfg.top_layers, n_layers))
        ),
    )
    try:
        if init_adapter is not None:
            from rsi_rag.generate.adapters import check_adapter_folder

            check_adapter_folder(init_adapter, fingerprint)
            model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
        else:
            model = get_peft_model(model, lora)
    except ValueError as exc:
        raise ConfigError(
            f"target_modules {cfg.target_modules!r} do not fit the model: {exc}"
        ) from exc
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    per_epoch = math.ceil(math.ceil(len(data) / cfg.batch_size) / cfg.grad_accum)
    total = cfg.max_steps or per_epoch * cfg.epochs
    sched = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optim, min(cfg.warmup_steps, total), total
    )

    step, losses, ckpt = 0, [], out / "checkpoint"
    if resume and (ckpt / "state.json").exists():
        state = json.loads((ckpt / "state.json").read_text())
        weights = load_file(str(ckpt / "adapter" / "adapter_model.safetensors"))
        set_peft_model_state_dict(model, weights)
        optim_state = torch.load(ckpt / "optimizer.pt", weights_only=True, map_location=dev)
        optim.load_state_dict(optim_state)
        sched.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))
        step, losses = int(state["step"]), list(state["losses"])
    resumed_from = step

    def save_checkpoint() -> None:
        def write(tmp: Path) -> None:
            model.save_pretrained(str(tmp / "adapter"))
            torch.save(optim.state_dict(), tmp / "optimizer.pt")
            torch.save(sched.state_dict(), tmp / "scheduler.pt")
            (tmp / "state.json").write_text(json.dumps({"step": step, "losses": losses}))

        _atomic_dir(ckpt, write)

    lengths = [len(ids) for ids, _ in data]
    starts = [_first_label(labels) for _, labels in data]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.train()
    bar = tqdm(total=total, initial=step, desc="adapter training", disable=not progress)
    started = time.perf_counter()
    epoch = step // max(per_epoch, 1)
    while step < total:
        # Micro-batches of a resumed epoch are regenerated from the same seed, then the
        # ones already consumed are skipped, so a resume sees the data a clean run would.
        batches = _batches(lengths, cfg.batch_size, cfg.seed + epoch)
        groups = [batches[i : i + cfg.grad_accum] for i in range(0, len(batches), cfg.grad_accum)]
        for group in groups[step - epoch * per_epoch :]:
            if step >= total:
                break
            n_tokens = sum(sum(1 for t in data[i][1] if t != -100) for b in group for i in b)
            step_loss = 0.0
            for b in group:
                width = max(lengths[i] for i in b)
                ids = torch.full((len(b), width), pad, dtype=torch.long)
                labels = torch.full((len(b), width), -100, dtype=torch.long)
                mask = torch.zeros((len(b), width), dtype=torch.long)
                for row, i in enumerate(b):
                    x, y = data[i]
                    ids[row, : len(x)] = torch.tensor(x)
                    labels[row, : len(y)] = torch.tensor(y)
                    mask[row, : len(x)] = 1
                ids, labels, mask = ids.to(dev), labels.to(dev), mask.to(dev)
                # Vocabulary logits only from the position before the batch's first answer
                # token on: the prompt's logits would cost time and memory for no loss.
                first = min(starts[i] for i in b)
                keep = width - max(first - 1, 0)
                with autocast(arith, dev):
                    fwd = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep)
                logits = fwd.logits[:, :-1]
                target = labels[:, width - keep + 1 :]
                # Summed over answer tokens and divided by the step's answer-token count:
                # every answer token weighs the same whatever micro-batch it landed in.
                loss = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]).float(),
                    target.reshape(-1),
                    ignore_index=-100,
                    reduction="sum",
                ) / max(n_tokens, 1)
                loss.backward()  # type: ignore[no-untyped-call]
                step_loss += float(loss.detach())
                del fwd, logits, loss
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            if cfg.trim_heap:
                trim_heap()
            step += 1
            losses.append(step_loss)
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.3f}")
            if on_step is not None:
                on_step(step, step_loss)
            if cfg.save_every and step % cfg.save_every == 0 and step < total:
                save_checkpoint()
        epoch += 1
    bar.close()
    elapsed = time.perf_counter() - started
    meta: dict[str, Any] = {
        "base_model": Path(ref).name,
        "base_fingerprint": fingerprint,
        "config": {**asdict(cfg), "target_modules": list(cfg.target_modules)},
        "steps": step,
        "examples": len(data),
        "data_manifest": manifest or {},
        "precision": arith,
    }

    def write_adapter(tmp: Path) -> None:
        model.save_pretrained(str(tmp))
        (tmp / ADAPTER_META_FILE).write_text(json.dumps(meta, indent=2))

    _atomic_dir(out / "adapter", write_adapter)
    shutil.rmtree(ckpt, ignore_errors=True)
    done = max(step - resumed_from, 1)
    return TrainResult(
        adapter_path=str(out / "adapter"),
        steps=step,
        examples=len(data),
        losses=losses,
        seconds_per_step=elapsed / done,
        peak_rss_mb=peak_rss_mb(),
        resumed_from_step=resumed_from,
        skipped=len(examples) - len(data),
        fingerprint=fingerprint,
        config=meta["config"],
        device=dev,
        precision=arith,
        peak_gpu_mb=torch.cuda.max_memory_allocated(dev) / 2**20 if on_gpu else 0.0,
    )
