"""Inference-time verification: spend more compute on a query to answer it more reliably.

Several candidates are generated (the greedy answer plus samples); each is scored for
groundedness (how much of it the context supports) and for the validity of its citations
(markers that point at a passage of the prompt which supports the answer). The best
candidate is returned, or the abstention text when none is grounded enough. When the best
retrieval score is low the question is rewritten into a keyword query and retrieved once
more, fusing dense and BM25 ranking; the better of the two retrievals is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rsi_rag.errors import ConfigError
from rsi_rag.generate.base import Generator, Message
from rsi_rag.generate.citations import content_words, is_abstention, support
from rsi_rag.generate.prompts import ABSTAIN_TEXT, build_messages
from rsi_rag.types import Hit

__all__ = [
    "Candidate",
    "Verifier",
    "VerifyConfig",
    "rewrite_query",
    "sample_candidates",
    "score_candidate",
]

_MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class VerifyConfig:
    """Settings of the verification loop.

    Attributes:
        candidates: Answers generated per query (the first one greedy, the rest sampled).
        temperature: Sampling temperature of the extra candidates.
        min_groundedness: A candidate below this support share is not grounded; when
            none reaches it the answer is the abstention text.
        rewrite_below: Best dense retrieval score under which the query is rewritten and
            retrieved again.
    """

    candidates: int = 4
    temperature: float = 0.7
    top_p: float = 0.95
    min_groundedness: float = 0.5
    rewrite_below: float = 0.35
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.candidates, int) or not 1 <= self.candidates <= 16:
            raise ConfigError(f"candidates must be an integer in [1, 16], got {self.candidates!r}")
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be positive, got {self.temperature!r}")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not 0.0 <= self.min_groundedness <= 1.0:
            raise ConfigError(f"min_groundedness must be in [0, 1], got {self.min_groundedness!r}")
        if not -1.0 <= self.rewrite_below <= 1.0:
            raise ConfigError(
                f"rewrite_below is a cosine score in [-1, 1], got {self.rewrite_below!r}"
            )


@dataclass(frozen=True)
class Candidate:
    """One scored answer."""

    text: str
    groundedness: float
    citation_validity: float
    score: float


def score_candidate(text: str, context: Sequence[Hit]) -> Candidate:
    """Groundedness in the cited passages (or the best passage) and citation validity."""
    plain = _MARKER.sub(" ", text)
    if is_abstention(text) or not content_words(plain) or not context:
        return Candidate(text, 0.0, 0.0, -1.0)
    markers = [int(m) for m in _MARKER.findall(text)]
    valid = [
        n for n in markers if 1 <= n <= len(context) and support(plain, context[n - 1].text) >= 0.5
    ]
    validity = len(valid) / len(markers) if markers else 0.0
    if valid:
        grounded = support(plain, " ".join(context[n - 1].text for n in set(valid)))
    else:
        grounded = max(support(plain, h.text) for h in context)
    return Candidate(text, grounded, validity, grounded + 0.25 * validity)


def sample_candidates(
    generator: Generator,
    messages: list[Message],
    n: int,
    max_new_tokens: int,
    temperature: float = 0.7,
    top_p: float = 0.95,
    seed: int = 0,
) -> list[str]:
    """The greedy answer plus ``n - 1`` sampled ones (greedy only for other generators)."""
    first = generator.generate(messages, max_new_tokens)
    if n == 1:
        return [first]
    import torch

    from rsi_rag.generate.adapters import AdapterGenerator
    from rsi_rag.generate.hf import HFGenerator

    kwargs: dict[str, Any] = dict(
        max_new_tokens=max_new_tokens,
        do_sample=True,
        temperature=temperature,
        top_p=top_p,
        num_return_sequences=n - 1,
        repetition_penalty=1.1,
    )
    torch.manual_seed(seed)
    if isinstance(generator, AdapterGenerator):
        input_ids, out = generator.run(messages, **kwargs)
        tok = generator.manager.base.tokenizer
    elif isinstance(generator, HFGenerator):
        input_ids = generator.encode_chat(messages)
        with generator._gen_lock, torch.inference_mode():
            out = generator.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                pad_token_id=generator.tokenizer.pad_token_id,
                **kwargs,
            )
        tok = generator.tokenizer
    else:
        return [first]
    rest = tok.batch_decode(out[:, input_ids.shape[1] :], skip_special_tokens=True)
    return [first, *(t.strip() for t in rest)]


def rewrite_query(question: str) -> str:
    """A keyword form of the question (its content words), for a second retrieval."""
    words = content_words(question)
    return " ".join(dict.fromkeys(words)) or question


class Verifier:
    """Best-of-n answering with groundedness and citation checks, plus one query rewrite."""

    def __init__(self, config: VerifyConfig | None = None) -> None:
        self.config = config or VerifyConfig()

    def maybe_rewrite(
        self,
        rag: Any,
        question: str,
        collection: str,
        prepared: tuple[Any, ...],
        k: int | None,
        tenant: str | None,
        principals: Sequence[str] | None,
        mode: str | None,
    ) -> tuple[Any, ...]:
        """Retrieve once more with a rewritten query when the best score is low."""
        _, hits, _, _ = prepared
        best = _best(hits)
        if best is not None and best >= self.config.rewrite_below:
            return prepared
        again = rag._prepare(
            rewrite_query(question),
            collection,
            k,
            tenant,
            principals,
            "hybrid" if mode in (None, "dense") else mode,
        )
        best2 = _best(again[1])
        if best2 is not None and (best is None or best2 > best):
            return tuple(again)
        return prepared

    def rank(
        self, question: str, context: Sequence[Hit], generator: Generator, max_new_tokens: int
    ) -> list[Candidate]:
        """Every candidate, scored, best first."""
        cfg = self.config
        texts = sample_candidates(
            generator,
            build_messages(question, context),
            cfg.candidates,
            max_new_tokens,
            cfg.temperature,
            cfg.top_p,
            cfg.seed,
        )
        return sorted(
            (score_candidate(t.strip(), context) for t in texts),
            key=lambda c: c.score,
            reverse=True,
        )

    def choose(
        self, question: str, context: Sequence[Hit], generator: Generator, max_new_tokens: int
    ) -> str:
        """The best grounded candidate, or the abstention text."""
        scored = self.rank(question, context, generator, max_new_tokens)
        if not scored or scored[0].groundedness < self.config.min_groundedness:
            return ABSTAIN_TEXT
        return scored[0].text

    def stream(
        self, question: str, context: Sequence[Hit], generator: Generator, max_new_tokens: int
    ) -> Iterator[str]:
        yield self.choose(question, context, generator, max_new_tokens)


def _best(hits: Sequence[Hit]) -> float | None:
    return max((h.dense_score for h in hits if h.dense_score is not None), default=None)
