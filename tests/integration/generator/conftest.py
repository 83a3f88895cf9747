"""One tiny adapter trained through the real SmolLM2 per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsi_rag.loop.generator_data import GenExample
from rsi_rag.loop.train_generator import LoRATrainingConfig, TrainResult, train_adapter

#: Each planet's sky colour is in the passage; the base model pads and wanders, the
#: adapter learns to answer with the colour and a citation.
COLOURS = ["green", "purple", "orange", "silver", "pink", "teal"]


def planet_examples(n: int = 6) -> list[GenExample]:
    return [
        GenExample(
            f"What colour is the sky on planet Zog-{i}?",
            (f"On planet Zog-{i} the sky is {COLOURS[i % len(COLOURS)]}.", "Cats sleep a lot."),
            f"{COLOURS[i % len(COLOURS)]} [1]",
            "user_correction",
            document_ids=(1,),
        )
        for i in range(n)
    ]


TINY = LoRATrainingConfig(
    max_steps=4, batch_size=3, grad_accum=1, learning_rate=5e-3, max_length=160, save_every=0
)


@pytest.fixture(scope="session")
def tiny_adapter(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    out: Path = tmp_path_factory.mktemp("adapter")
    return train_adapter(planet_examples(), out, TINY, progress=False)
