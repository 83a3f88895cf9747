"""Settings of the retriever improvement cycle."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsi_rag.errors import ConfigError

__all__ = ["LoopConfig"]

_FILE = "loop.json"


@dataclass(frozen=True)
class LoopConfig:
    """How one retriever improvement cycle collects, synthesizes, trains and gates.

    Attributes:
        holdout_fraction: Share of user-grounded examples held out of training forever
            and added to the collection's gate set.
        synthetic_gate_fraction: Share of synthetic examples held out as a label-free
            gate set (used only when no human-grounded gate examples exist).
        max_synthetic_share: Upper bound on the synthetic share of a training set when
            real (user or gold) data exists; real data is never dropped.
        max_synthetic_examples: Upper bound on synthetic examples in one training set.
        questions_per_cycle: Chunks per cycle the champion generator writes a question for.
        crops_per_cycle: Chunks per cycle that yield an inverse-cloze crop (and a title
            query when the chunk has a title).
        cloze_keep_fraction: Share of crop and title pairs trained against their whole
            chunk; the others train against the chunk with the query's span removed
            (inverse cloze task), so they teach more than matching identical words.
        question_max_tokens: Generation budget of one question.
        generation_batch_size: Prompts generated together.
        round_trip_k: A synthetic query is kept only when the current retriever ranks its
            source chunk within this many hits.
        near_duplicate_cosine: Queries closer than this to a kept query are dropped.
        min_train_examples: Fewer training examples than this: a not-enough-data decision.
        min_gate_examples: Fewer gate examples than this: a not-enough-data decision.
        epochs: Training epochs per cycle.
        synthetic_only_max_epochs: Upper bound on the epochs of a training set that holds
            no user or gold example (0: no bound). Synthetic pairs alone teach little that
            real queries need, and more passes over them drift the model away from them.
        batch_size: Training batch size (in-batch negatives of the ranking loss).
        learning_rate: Peak learning rate.
        hard_negatives: Hard negatives mined per training pair.
        train_max_seq_length: Tokens of each text the model sees while training (0: the
            model's own limit). Shorter sequences make an epoch cheaper; the saved model
            keeps its own limit for encoding.
        negative_range: Ranks ``(min, max)`` of the champion's hits negatives come from;
            skipping the very top avoids unlabelled positives.
        mining_corpus_size: Chunks hard negatives are mined from (a seeded sample; 0 for
            all), which bounds the cost of re-embedding a large corpus every cycle.
        auto_min_new_examples: New examples since the last cycle that trigger a
            background cycle.
        seed: Seed for sampling, holdout and training.
    """

    holdout_fraction: float = 0.2
    synthetic_gate_fraction: float = 0.1
    max_synthetic_share: float = 0.5
    max_synthetic_examples: int = 5000
    questions_per_cycle: int = 64
    crops_per_cycle: int = 256
    cloze_keep_fraction: float = 0.1
    question_max_tokens: int = 32
    generation_batch_size: int = 8
    round_trip_k: int = 10
    near_duplicate_cosine: float = 0.97
    min_train_examples: int = 16
    min_gate_examples: int = 5
    epochs: int = 3
    synthetic_only_max_epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-5
    hard_negatives: int = 1
    train_max_seq_length: int = 128
    negative_range: tuple[int, int] = (10, 50)
    mining_corpus_size: int = 4000
    auto_min_new_examples: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("holdout_fraction", "synthetic_gate_fraction", "max_synthetic_share"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
                raise ConfigError(f"{name} must be a number in [0, 1), got {value!r}")
        value = self.cloze_keep_fraction
        if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"cloze_keep_fraction must be a number in [0, 1], got {value!r}")
        for name in (
            "max_synthetic_examples",
            "questions_per_cycle",
            "crops_per_cycle",
            "min_train_examples",
            "min_gate_examples",
            "hard_negatives",
            "seed",
            "auto_min_new_examples",
            "mining_corpus_size",
            "train_max_seq_length",
            "synthetic_only_max_epochs",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        for name in (
            "question_max_tokens",
            "generation_batch_size",
            "round_trip_k",
            "epochs",
            "batch_size",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 < float(self.learning_rate) < 1.0:
            raise ConfigError(f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if not 0.0 < float(self.near_duplicate_cosine) <= 1.0:
            raise ConfigError(
                f"near_duplicate_cosine must be in (0, 1], got {self.near_duplicate_cosine!r}"
            )
        lo, hi = self.negative_range
        if not 0 <= lo < hi:
            raise ConfigError(
                "negative_range must be (min, max) with 0 <= min < max, "
                f"got {self.negative_range!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["negative_range"] = list(self.negative_range)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoopConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown loop config keys {unknown}; valid keys: {sorted(names)}")
        data = dict(data)
        if "negative_range" in data:
            data["negative_range"] = tuple(data["negative_range"])
        return cls(**data)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> LoopConfig:
        """``data_dir/loop.json`` when present, else the defaults."""
        path = Path(data_dir) / _FILE
        if not path.exists():
            return cls()
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"loop config {path} is not valid JSON: {exc}") from exc
