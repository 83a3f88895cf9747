"""Citations: markers ``[n]`` in an answer mapped back to the chunks in its prompt."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rsi_rag.generate.prompts import ABSTAIN_TEXT
from rsi_rag.types import Citation, Hit

__all__ = ["content_words", "extract_citations", "is_abstention", "support"]

_MARKER = re.compile(r"\[(\d{1,3})\]")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "which",
        "who",
        "what",
        "when",
        "where",
        "why",
        "how",
        "not",
        "no",
        "yes",
        "can",
        "do",
        "does",
        "did",
    ]
)


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def support(answer: str, passage: str) -> float:
    """Share of the answer's content words found in ``passage`` (0 when it has none)."""
    words = content_words(answer)
    if not words:
        return 0.0
    vocab = set(content_words(passage))
    return sum(w in vocab for w in words) / len(words)


def is_abstention(answer: str) -> bool:
    norm = " ".join(_WORD.findall(answer.lower()))
    target = " ".join(_WORD.findall(ABSTAIN_TEXT.lower()))
    return not norm or norm.startswith(target) or norm == "not found"


def _citation(marker: int, hit: Hit, inferred: bool) -> Citation:
    return Citation(marker, hit.chunk_id, hit.document_id, hit.source, hit.text, inferred)


def extract_citations(
    answer: str, context: Sequence[Hit], min_support: float = 0.5
) -> tuple[Citation, ...]:
    """Citations written in ``answer``; markers outside the context are ignored.

    When the model wrote no valid marker, the context passage that best supports the
    answer is attached as an *inferred* citation if it holds at least ``min_support`` of
    the answer's content words.
    """
    out: list[Citation] = []
    seen: set[int] = set()
    for m in _MARKER.finditer(answer):
        n = int(m.group(1))
        if 1 <= n <= len(context) and n not in seen:
            seen.add(n)
            out.append(_citation(n, context[n - 1], inferred=False))
    if out or not context:
        return tuple(out)
    scored = [(support(answer, h.text), i) for i, h in enumerate(context)]
    best, i = max(scored)
    if best >= min_support:
        return (_citation(i + 1, context[i], inferred=True),)
    return ()
