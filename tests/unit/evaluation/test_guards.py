from __future__ import annotations

import numpy as np
import pytest

from rsi_rag.errors import NotEnoughDataError, ValidationError
from rsi_rag.evaluation import guards


def test_distinct_n_and_self_bleu_fall_and_rise_with_repetition() -> None:
    varied = ["the cat sat on the mat", "a dog ran across the park", "rain fell over the hills"]
    same = ["the cat sat on the mat"] * 3
    assert guards.distinct_n(varied, 2) > guards.distinct_n(same, 2)
    assert guards.distinct_n(same, 1) == pytest.approx(5 / 18)
    assert guards.self_bleu(same) == pytest.approx(1.0)
    assert guards.self_bleu(varied) < 0.2
    g = guards.generation_guards(varied)
    assert set(g) == {"distinct_1", "distinct_2", "self_bleu"}
    with pytest.raises(NotEnoughDataError):
        guards.self_bleu(["only one"])
    with pytest.raises(ValidationError):
        guards.distinct_n("a string", 2)
    with pytest.raises(ValidationError):
        guards.distinct_n(varied, 0)


def test_effective_rank_and_mean_cosine_detect_collapse() -> None:
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(200, 32))
    collapsed = np.outer(rng.normal(size=200), rng.normal(size=32)) + 0.01 * spread
    assert guards.effective_rank(spread) > 25
    assert guards.effective_rank(collapsed) < 3
    assert guards.effective_rank(np.eye(8)) == pytest.approx(8.0, rel=1e-6)
    assert abs(guards.mean_pairwise_cosine(spread)) < 0.05
    same_dir = np.abs(collapsed)
    assert guards.mean_pairwise_cosine(same_dir) > 0.9
    x = rng.normal(size=(20, 4))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    full = xn @ xn.T
    expected = (full.sum() - np.trace(full)) / (20 * 19)
    assert guards.mean_pairwise_cosine(x) == pytest.approx(expected)
    with pytest.raises(NotEnoughDataError):
        guards.effective_rank(np.ones((1, 4)))
    with pytest.raises(ValidationError):
        guards.effective_rank(np.array([[1.0, np.nan], [0.0, 1.0]]))


def test_synthetic_share() -> None:
    assert guards.synthetic_share(["synthetic", "user", "gold", "synthetic"]) == 0.5
    assert guards.synthetic_share([{"provenance": "synthetic"}]) == 1.0
    with pytest.raises(NotEnoughDataError):
        guards.synthetic_share([])


@pytest.mark.integration
def test_heldout_perplexity_of_real_generator(real_generator: object) -> None:
    model, tok = real_generator.model, real_generator.tokenizer  # type: ignore[attr-defined]
    text = [
        "The immune system protects the body against infection by bacteria and viruses.",
        "Coronaviruses are a family of viruses that cause respiratory illness in humans.",
    ]
    scrambled = [" ".join(reversed(t.split())) for t in text]
    real = guards.heldout_perplexity(model, tok, text)
    noise = guards.heldout_perplexity(model, tok, scrambled)
    assert 1 < real < noise
    assert guards.heldout_perplexity(model, tok, text, batch_size=1) == pytest.approx(
        real, rel=1e-3
    )
