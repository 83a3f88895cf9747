"""How the generator reads the passages of a prompt: all together, or one at a time.

``joint`` reading puts the top ``context_k`` passages in one prompt. ``per_passage`` reading
asks the question of each passage alone, in rank order, and returns the first answer that
does not abstain, with the passage it came from; when every passage abstains, so does the
answer. A small model reads one passage better than three (its attention spreads over every
passage of a long prompt), and a reader trained to abstain on a passage that lacks the
answer turns the ranking's lower passages into second chances instead of distractions.
Reading stops at the first answer, so a question whose top passage answers it costs one
generation.
"""

from __future__ import annotations

from collections.abc import Sequence

from rsi_rag.generate.base import Generator
from rsi_rag.generate.citations import is_abstention
from rsi_rag.generate.prompts import ABSTAIN_TEXT, build_messages
from rsi_rag.types import Hit

__all__ = ["read_each"]


def read_each(
    generator: Generator, question: str, hits: Sequence[Hit], max_new_tokens: int
) -> tuple[str, Hit | None, int]:
    """Answer from each passage alone, in order, until one answer does not abstain.

    Returns:
        The answer, the passage it was read from, and the number of passages read. When
        every passage abstains (or there is none): the abstention text, ``None`` and the
        number read.
    """
    for read, hit in enumerate(hits, start=1):
        text = generator.generate(build_messages(question, [hit]), max_new_tokens).strip()
        if not is_abstention(text):
            return text, hit, read
    return ABSTAIN_TEXT, None, len(hits)
