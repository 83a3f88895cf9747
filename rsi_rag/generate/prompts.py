"""The prompt used at serving time (and by adapter training, so both see one format)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rsi_rag.generate.base import Message
from rsi_rag.types import Hit

__all__ = ["ABSTAIN_TEXT", "SYSTEM_PROMPT", "build_messages", "select_context"]

ABSTAIN_TEXT = "Not found in the documents."

SYSTEM_PROMPT = (
    "You answer questions using only the numbered context passages. Answer briefly and "
    "cite the passages you used like [1]. If the passages do not contain the answer, "
    f"reply exactly: {ABSTAIN_TEXT}"
)


def select_context(
    hits: Sequence[Hit], k: int, budget_tokens: int, count_tokens: Callable[[str], int]
) -> list[Hit]:
    """The first ``k`` hits that fit in ``budget_tokens`` (at least one, truncated later)."""
    chosen: list[Hit] = []
    used = 0
    for hit in hits[:k]:
        n = count_tokens(hit.text) + 8
        if chosen and used + n > budget_tokens:
            break
        chosen.append(hit)
        used += n
    return chosen


def build_messages(question: str, hits: Sequence[Hit]) -> list[Message]:
    context = "\n\n".join(f"[{i}] {h.text.strip()}" for i, h in enumerate(hits, start=1))
    user = f"Context:\n{context}\n\nQuestion: {question.strip()}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
