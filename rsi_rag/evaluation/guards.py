"""Collapse guards: signals that a model trained on its own outputs is degenerating.

Each function returns one float. The gate compares a challenger's guard values with a
reference (the champion's, or the first cycle's) under the tolerances of its policy; see
:data:`GUARDS` for the direction and the kind of tolerance of every guard.

* ``heldout_perplexity``: perplexity of a causal LM on real text it never trained on; it
  rises when a generator forgets the language it started from.
* ``distinct_1`` / ``distinct_2``: share of distinct n-grams in generated text; falls as
  outputs become repetitive.
* ``self_bleu``: mean BLEU of each generated text against the others; rises as outputs
  become alike.
* ``effective_rank``: RankMe (Garrido et al., 2023), the exponential of the entropy of the
  normalised singular values of an embedding matrix; falls when embeddings collapse onto
  few directions.
* ``mean_pairwise_cosine``: mean cosine between distinct embeddings; rises as they
  bunch together.
* ``synthetic_share``: share of synthetic examples in a training set; capped.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rsi_rag.errors import NotEnoughDataError, ValidationError

__all__ = [
    "GUARDS",
    "GuardSpec",
    "distinct_n",
    "effective_rank",
    "embedding_guards",
    "generation_guards",
    "heldout_perplexity",
    "mean_pairwise_cosine",
    "self_bleu",
    "synthetic_share",
]


@dataclass(frozen=True)
class GuardSpec:
    """How a guard is judged.

    Attributes:
        name: Guard name used in policies and decisions.
        greater_is_better: Direction of the guard's value.
        tolerance: ``"relative"``: the value may worsen by at most this fraction of the
            reference; ``"absolute"``: by at most this amount; ``"ceiling"``: the value
            itself must not exceed the tolerance (no reference needed).
    """

    name: str
    greater_is_better: bool
    tolerance: Literal["relative", "absolute", "ceiling"]


#: Every guard the gate knows, by name. Answer-level metrics can also serve as guards.
GUARDS: dict[str, GuardSpec] = {
    g.name: g
    for g in (
        GuardSpec("heldout_perplexity", False, "relative"),
        GuardSpec("distinct_1", True, "relative"),
        GuardSpec("distinct_2", True, "relative"),
        GuardSpec("self_bleu", False, "absolute"),
        GuardSpec("effective_rank", True, "relative"),
        GuardSpec("mean_pairwise_cosine", False, "absolute"),
        GuardSpec("synthetic_share", False, "ceiling"),
        GuardSpec("groundedness", True, "absolute"),
        GuardSpec("abstention_accuracy", True, "absolute"),
        GuardSpec("citation_precision", True, "absolute"),
        GuardSpec("latency_p95_ms", False, "relative"),
    )
}


def _texts(texts: Sequence[str], what: str, minimum: int = 1) -> list[str]:
    if isinstance(texts, str):
        raise ValidationError(f"{what} takes a list of strings, not one string")
    out = [t for t in texts if isinstance(t, str)]
    if len(out) != len(texts):
        raise ValidationError(f"{what} takes strings only")
    if len(out) < minimum:
        raise NotEnoughDataError(f"{what} needs at least {minimum} texts, got {len(out)}")
    return out


def heldout_perplexity(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    max_length: int = 256,
    batch_size: int = 4,
) -> float:
    """Perplexity of a causal LM on ``texts`` (token-weighted over all texts).

    Args:
        model: A transformers causal LM (a peft model works too), already on its device.
        tokenizer: Its tokenizer.
        texts: Real held-out text the model never trained on.
        max_length: Each text is truncated to this many tokens.
        batch_size: Texts per forward pass.

    Returns:
        ``exp(total negative log-likelihood / total predicted tokens)``.
    """
    import torch

    texts = _texts(texts, "heldout_perplexity")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(texts), batch_size):
            rows = [
                tokenizer(t, add_special_tokens=False, truncation=True, max_length=max_length)[
                    "input_ids"
                ]
                for t in texts[start : start + batch_size]
            ]
            rows = [r for r in rows if len(r) >= 2]
            if not rows:
                continue
            width = max(len(r) for r in rows)
            ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for i, r in enumerate(rows):
                ids[i, : len(r)] = torch.tensor(r)
                mask[i, : len(r)] = 1
            ids, mask = ids.to(device), mask.to(device)
            with torch.inference_mode():
                logits = model(input_ids=ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            target = ids[:, 1:]
            nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            keep = mask[:, 1:].bool()
            total_nll += float(nll[keep].sum())
            total_tokens += int(keep.sum())
    finally:
        model.train(was_training)
    if total_tokens == 0:
        raise NotEnoughDataError("heldout_perplexity: no text had two or more tokens")
    return math.exp(total_nll / total_tokens)


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of ``texts`` (Li et al., 2016); 0 when none."""
    if not isinstance(n, int) or n < 1:
        raise ValidationError(f"n must be a positive integer, got {n!r}")
    texts = _texts(texts, "distinct_n")
    grams = [g for t in texts for g in _ngrams(t.lower().split(), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_bleu(
    texts: Sequence[str], *, max_n: int = 4, max_texts: int = 200, seed: int = 0
) -> float:
    """Mean BLEU of each text against all the others as references (Zhu et al., 2018).

    Args:
        texts: Generated texts (at least two).
        max_n: Highest n-gram order, with uniform weights.
        max_texts: A seeded sample of this many texts is scored when there are more,
            because the cost grows with the square of the count.
        seed: Seed of that sample.
    """
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    texts = _texts(texts, "self_bleu", minimum=2)
    if len(texts) > max_texts:
        texts = random.Random(seed).sample(texts, max_texts)
    tokens = [t.lower().split() for t in texts]
    weights = tuple([1.0 / max_n] * max_n)
    smooth = SmoothingFunction().method1
    scores = []
    for i, hyp in enumerate(tokens):
        if not hyp:
            continue
        refs = [r for j, r in enumerate(tokens) if j != i and r]
        if refs:
            scores.append(
                float(sentence_bleu(refs, hyp, weights=weights, smoothing_function=smooth))
            )
    return math.fsum(scores) / len(scores) if scores else 0.0


def _matrix(embeddings: Any, what: str) -> Any:
    import numpy as np

    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise NotEnoughDataError(
            f"{what} needs a 2-D array of at least two embeddings, got shape {x.shape}"
        )
    if not np.isfinite(x).all():
        raise ValidationError(f"{what}: embeddings hold NaN or infinite values")
    return x


def effective_rank(embeddings: Any) -> float:
    """RankMe: ``exp(entropy(s / sum(s)))`` over the singular values ``s`` of the matrix."""
    import numpy as np

    x = _matrix(embeddings, "effective_rank")
    s = np.linalg.svd(x, compute_uv=False)
    if s.sum() <= 0:
        return 0.0
    p = s / s.sum() + 1e-12
    return float(np.exp(-(p * np.log(p)).sum()))


def mean_pairwise_cosine(embeddings: Any) -> float:
    """Mean cosine similarity over all pairs of distinct rows."""
    import numpy as np

    x = _matrix(embeddings, "mean_pairwise_cosine")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms == 0, 1.0, norms)
    n = x.shape[0]
    total = x.sum(axis=0)
    # sum over i != j of x_i . x_j = |sum x|^2 - sum |x_i|^2, without the n x n matrix.
    pair_sum = float(total @ total - (x * x).sum())
    return float(pair_sum / (n * (n - 1)))


def synthetic_share(provenances: Iterable[Any]) -> float:
    """Share of examples whose provenance is ``"synthetic"``.

    Args:
        provenances: Provenance strings, or examples with a ``provenance`` attribute or key.
    """
    count = synthetic = 0
    for item in provenances:
        if isinstance(item, str):
            prov = item
        elif isinstance(item, dict):
            prov = str(item.get("provenance", ""))
        else:
            prov = str(getattr(item, "provenance", ""))
        count += 1
        synthetic += prov == "synthetic"
    if count == 0:
        raise NotEnoughDataError("synthetic_share: the training set is empty")
    return synthetic / count


def generation_guards(texts: Sequence[str], *, seed: int = 0) -> dict[str, float]:
    """``distinct_1``, ``distinct_2`` and ``self_bleu`` of generated texts in one call."""
    return {
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "self_bleu": self_bleu(texts, seed=seed),
    }


def embedding_guards(embeddings: Any) -> dict[str, float]:
    """``effective_rank`` and ``mean_pairwise_cosine`` of an embedding matrix."""
    return {
        "effective_rank": effective_rank(embeddings),
        "mean_pairwise_cosine": mean_pairwise_cosine(embeddings),
    }
