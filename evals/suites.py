"""Named evaluation suites: which datasets, which split, which systems.

A suite names datasets in the ``beir`` or ``qa`` format and the systems to score on
each. Real-data suites read ``../shared/data`` (or ``$RSI_RAG_EVAL_DATA``); ``smoke``
uses the small fixture shipped in ``evals/fixtures`` and runs in seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rsi_rag.errors import ValidationError

__all__ = ["RETRIEVAL_SYSTEMS", "SUITES", "DatasetSpec", "Suite", "get_suite", "shared_data_dir"]

RETRIEVAL_SYSTEMS = ("bm25", "dense", "hybrid", "llamaindex")
ANSWER_SYSTEMS = ("generator_gold", "generator_retrieved")
FIXTURES = Path(__file__).parent / "fixtures"


def shared_data_dir() -> Path:
    """``$RSI_RAG_EVAL_DATA``, else ``shared/data`` beside the project checkout."""
    env = os.environ.get("RSI_RAG_EVAL_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a suite.

    Attributes:
        name: Dataset name (also the collection name, prefixed with ``eval-``).
        path: The folder.
        format: ``beir`` or ``qa``.
        split: For ``beir``: the qrels split reported. For ``qa``: the split of the
            by-document split (``train`` / ``gate`` / ``report``) that is reported.
        systems: Systems scored on it.
        answer_sample: Questions sampled (seeded) for the answer systems.
    """

    name: str
    path: Path
    format: str
    split: str = "test"
    systems: tuple[str, ...] = ("bm25", "dense", "hybrid")
    answer_sample: int = 100


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    datasets: tuple[DatasetSpec, ...] = field(default_factory=tuple)


def _suites() -> dict[str, Suite]:
    data = shared_data_dir()
    scifact = DatasetSpec("scifact", data / "scifact", "beir", "test", RETRIEVAL_SYSTEMS)
    covidqa = DatasetSpec(
        "covidqa", data / "covidqa", "qa", "report", RETRIEVAL_SYSTEMS + ANSWER_SYSTEMS, 100
    )
    return {
        "smoke": Suite(
            "smoke",
            "Small shipped fixtures in both formats, real MiniLM, no generator (seconds).",
            (
                DatasetSpec("fixture-beir", FIXTURES / "mini_beir", "beir", "test"),
                DatasetSpec("fixture-qa", FIXTURES / "mini_qa", "qa", "report"),
            ),
        ),
        "scifact": Suite("scifact", "SciFact test claims: retrieval baselines.", (scifact,)),
        "covidqa": Suite(
            "covidqa",
            "COVID-QA report split (by article): retrieval and generator baselines.",
            (covidqa,),
        ),
        "baselines": Suite("baselines", "SciFact and COVID-QA baselines.", (scifact, covidqa)),
    }


SUITES = tuple(sorted(_suites()))


def get_suite(name: str) -> Suite:
    suites = _suites()
    if name not in suites:
        raise ValidationError(f"unknown suite {name!r}; available: {sorted(suites)}")
    return suites[name]
