"""Evaluating a generator (base or adapter) on fixed contexts, and its collapse guards.

Answers are scored on given passages (the gold chunk, or what the retriever returned when
the set was built), so two generators are compared on exactly the same prompts and the
gate can pair their per-query scores. An item without gold answers is unanswerable from
its passages: abstaining is the right answer and scores 1 on every answer metric.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rsi_rag.config import check_reading
from rsi_rag.errors import ValidationError
from rsi_rag.evaluation.base import Evaluator
from rsi_rag.evaluation.guards import distinct_n, heldout_perplexity, self_bleu
from rsi_rag.evaluation.metrics import exact_match, groundedness, latency_summary, token_f1
from rsi_rag.generate.base import Generator
from rsi_rag.generate.citations import is_abstention
from rsi_rag.generate.prompts import build_messages
from rsi_rag.generate.reading import read_each
from rsi_rag.types import Hit

__all__ = ["GeneratorEvaluator", "QAItem", "generator_guards", "strip_markers"]

_MARKER = re.compile(r"\s*\[\d{1,3}\]")


def strip_markers(text: str) -> str:
    """The answer without its citation markers (they are not part of the gold answer)."""
    return _MARKER.sub("", text).strip()


@dataclass(frozen=True)
class QAItem:
    """A question with the passages of its prompt and its gold answers (none: abstain)."""

    id: str
    question: str
    contexts: tuple[str, ...]
    answers: tuple[str, ...] = ()

    def hits(self) -> list[Hit]:
        return [Hit(i, 0, "", 0.0, t) for i, t in enumerate(self.contexts)]


class GeneratorEvaluator(Evaluator[Generator]):
    """Answer F1 (primary), exact match, groundedness and abstention accuracy per query.

    Args:
        items: The evaluation or gate items (frozen: never trained on).
        max_new_tokens: Generation budget per answer.
        reading: ``"joint"`` (every passage of the item in one prompt) or ``"per_passage"``
            (:func:`rsi_rag.generate.reading.read_each`; groundedness is then measured
            against the passage the answer was read from).

    Attributes:
        outputs: Answers of the last evaluated generator, by item id (for diversity guards).
        passages_read: Prompts generated per item in the last evaluation.
    """

    name = "generator"
    primary_metric = "answer_f1"
    greater_is_better = True

    def __init__(
        self, items: Sequence[QAItem], max_new_tokens: int = 48, reading: str = "joint"
    ) -> None:
        ids = [it.id for it in items]
        if len(set(ids)) != len(ids):
            raise ValidationError("evaluation items must have distinct ids")
        self.items = list(items)
        self.max_new_tokens = max_new_tokens
        self.reading = check_reading(reading)
        self.outputs: dict[str, str] = {}
        self.passages_read: dict[str, int] = {}

    @property
    def query_ids(self) -> list[str]:
        return [it.id for it in self.items]

    def _evaluate(self, system: Generator) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
        metrics: dict[str, dict[str, float]] = {
            m: {} for m in ("answer_f1", "exact_match", "groundedness", "abstention_accuracy")
        }
        latencies = []
        self.outputs = {}
        self.passages_read = {}
        for it in self.items:
            started = time.perf_counter()
            contexts: Sequence[str] = it.contexts
            if self.reading == "per_passage":
                raw, hit, read = read_each(system, it.question, it.hits(), self.max_new_tokens)
                contexts = (hit.text,) if hit is not None else ()
            else:
                raw = system.generate(build_messages(it.question, it.hits()), self.max_new_tokens)
                read = len(it.contexts)
            latencies.append((time.perf_counter() - started) * 1000)
            self.outputs[it.id] = raw
            self.passages_read[it.id] = read
            abstained = is_abstention(raw)
            text = strip_markers(raw)
            if it.answers:
                f1 = 0.0 if abstained else token_f1(text, it.answers)
                em = 0.0 if abstained else exact_match(text, it.answers)
            else:
                f1 = em = float(abstained)
            metrics["answer_f1"][it.id] = f1
            metrics["exact_match"][it.id] = em
            metrics["groundedness"][it.id] = 1.0 if abstained else groundedness(text, contexts)
            metrics["abstention_accuracy"][it.id] = float(abstained == (not it.answers))
        lat = latency_summary(latencies)
        return metrics, {"latency_p95_ms": lat.get("latency_p95_ms", 0.0)}


def generator_guards(
    model: Any, tokenizer: Any, heldout_texts: Sequence[str], outputs: Sequence[str]
) -> dict[str, float]:
    """Collapse guards of one generator: held-out perplexity and output diversity.

    Args:
        model: The causal LM with the evaluated adapter active.
        tokenizer: Its tokenizer.
        heldout_texts: Real text never trained on.
        outputs: Texts the generator produced on the evaluation prompts.
    """
    texts = [strip_markers(o) or "-" for o in outputs]
    return {
        "heldout_perplexity": heldout_perplexity(model, tokenizer, heldout_texts, max_length=256),
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "self_bleu": self_bleu(texts) if len(texts) >= 2 else 0.0,
    }
