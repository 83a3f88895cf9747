"""train: fine-tune the sentence-transformers retriever on accumulated examples.

MultipleNegativesRankingLoss over (query, positive, hard negative) triplets: the other
passages of the batch act as further negatives. Hard negatives come from the user's
rejected chunks where there are any, otherwise from
:func:`sentence_transformers.util.mine_hard_negatives` over the collection's chunks,
skipping the very top ranks (likely unlabelled positives). The model is written to a
``.partial`` folder and renamed into place, so a killed run never leaves a folder that
looks complete.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsi_rag.errors import NotEnoughDataError
from rsi_rag.loop.config import LoopConfig

__all__ = ["TrainPair", "TrainResult", "partial_dir", "train_retriever"]


@dataclass(frozen=True)
class TrainPair:
    """A query, a passage that answers it and optionally one that does not."""

    query: str
    positive: str
    negative: str | None = None


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced."""

    path: str
    pairs: int
    triplets: int
    mined: int
    steps: int
    loss: float | None
    seconds: float
    precision: str = "fp32"


def partial_dir(out_dir: Path) -> Path:
    return out_dir.with_name(out_dir.name + ".partial")


def _triplets(
    model: Any, pairs: Sequence[TrainPair], corpus: Sequence[str], config: LoopConfig
) -> tuple[list[tuple[str, str, str]], int]:
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    given = [(p.query, p.positive, p.negative) for p in pairs if p.negative]
    todo = [p for p in pairs if not p.negative]
    mined: list[tuple[str, str, str]] = []
    if todo:
        lo, hi = config.negative_range
        data = Dataset.from_dict(
            {"anchor": [p.query for p in todo], "positive": [p.positive for p in todo]}
        )
        out = mine_hard_negatives(
            data,
            model,
            corpus=list(corpus),
            range_min=lo,
            range_max=hi,
            relative_margin=0.05,
            num_negatives=config.hard_negatives,
            sampling_strategy="random",
            batch_size=64,
            verbose=False,
            output_format="triplet",
        )
        mined = [(r["anchor"], r["positive"], r["negative"]) for r in out]
        # Pairs with no negative in range still teach through in-batch negatives: give
        # them a random passage as their explicit negative.
        have = {(a, p) for a, p, _ in mined}
        rng = random.Random(config.seed)
        for p in todo:
            if (p.query, p.positive) not in have:
                neg = rng.choice(corpus)
                if neg != p.positive:
                    mined.append((p.query, p.positive, neg))
    return [(a, p, n) for a, p, n in given if n] + mined, len(mined)


def train_retriever(
    base_path: str,
    pairs: Sequence[TrainPair],
    corpus: Sequence[str],
    out_dir: Path,
    config: LoopConfig,
    *,
    device: str | None = None,
    precision: str = "auto",
    on_step: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Fine-tune the model at ``base_path`` and save it to ``out_dir``.

    Args:
        base_path: The parent sentence-transformers folder (the champion).
        pairs: Training pairs; frozen data must already have been refused.
        corpus: Passages hard negatives are mined from.
        out_dir: Final model folder; must not exist yet.
        config: Epochs, batch size, learning rate, negatives.
        device: ``cpu``, ``cuda`` or ``None`` (automatic).
        precision: ``"auto"``, ``"fp32"`` or ``"bf16"``: bfloat16 mixed precision (float32
            weights) for mining and training where the hardware computes it natively.
        on_step: Called with ``(step, total_steps)`` after each optimizer step.

    Raises:
        NotEnoughDataError: fewer than two pairs or an empty corpus.
    """
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    from rsi_rag.embed.precision import autocast, resolve_precision
    from rsi_rag.embed.sentence_transformer import resolve_device

    if len(pairs) < 2 or not corpus:
        raise NotEnoughDataError(
            f"training needs at least 2 pairs and a non-empty corpus, got {len(pairs)} pairs "
            f"and {len(corpus)} passages; ingest documents or collect more feedback"
        )
    started = time.perf_counter()
    dev = resolve_device(device)
    # A fresh instance: the serving copy of the champion must not see its weights change.
    model = SentenceTransformer(base_path, device=dev)
    arith = resolve_precision(precision, dev)
    with autocast(arith, dev):
        rows, mined = _triplets(model, pairs, corpus, config)
    from datasets import Dataset

    data = Dataset.from_dict(
        {
            "anchor": [r[0] for r in rows],
            "positive": [r[1] for r in rows],
            "negative": [r[2] for r in rows],
        }
    )
    encode_limit = model.max_seq_length
    if config.train_max_seq_length:
        model.max_seq_length = min(config.train_max_seq_length, encode_limit or 10**9)
    partial = partial_dir(out_dir)
    shutil.rmtree(partial, ignore_errors=True)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(partial / "trainer"),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=min(config.batch_size, len(rows)),
        learning_rate=config.learning_rate,
        warmup_steps=0.1,  # a float is a share of the steps (transformers 5)
        batch_sampler="no_duplicates",
        save_strategy="no",
        report_to="none",
        logging_steps=10,
        disable_tqdm=True,
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=dev == "cpu",
        bf16=arith == "bf16",
        dataloader_num_workers=0,
    )

    class _Progress(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if on_step is not None:
                on_step(int(state.global_step), int(state.max_steps))

    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=data,
        loss=MultipleNegativesRankingLoss(model),
        callbacks=[_Progress()],
    )
    result = trainer.train()
    shutil.rmtree(partial / "trainer", ignore_errors=True)
    model.max_seq_length = encode_limit
    model.save(str(partial))
    os.replace(partial, out_dir)
    return TrainResult(
        str(out_dir),
        len(pairs),
        len(rows),
        mined,
        int(result.global_step),
        float(result.training_loss) if result.training_loss is not None else None,
        time.perf_counter() - started,
        arith,
    )
