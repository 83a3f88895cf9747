"""The gate on real retrievers: MiniLM fine-tuned with MultipleNegativesRankingLoss.

The in-test corpus describes people by job, city and food; queries name the three in a
coded form (every word reversed) that the zero-shot model does not read well. Fine-tuning
on the queries of 80 passages teaches the code, which transfers to the 40 held-out gate
passages: a genuinely better challenger. Training on shuffled pairs teaches nothing true.

The embedding guards are measured on held-out real text never trained on (paragraphs of the
Python language reference that ships with Python), as perplexity is for the generator: the
120 templated passages vary along 30 attribute values only, so any model that learns them
concentrates their embeddings there, which is the task, not a collapse.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rsi_rag.evaluation import EvaluationResult, RetrievalEvaluator, guards
from rsi_rag.evaluation.frozen import assert_trainable
from rsi_rag.loop.gate import Gate, GatePolicy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOBS = "baker pilot nurse farmer lawyer painter plumber teacher chemist sailor".split()  # noqa: SIM905
CITIES = "Paris Tokyo Lima Oslo Cairo Delhi Quito Sydney Dublin Nairobi".split()  # noqa: SIM905
FOODS = "mango cheese rice honey olives bread lentils salmon figs noodles".split()  # noqa: SIM905
SYLLABLES = ["ka", "lo", "mi", "ren", "su", "ta", "vo", "xi", "ne", "pa", "dor", "ul"]


def _corpus() -> tuple[dict[str, str], dict[str, str]]:
    rng = random.Random(7)
    combos = rng.sample([(j, c, f) for j in JOBS for c in CITIES for f in FOODS], 120)
    passages, queries = {}, {}
    for i, (job, city, food) in enumerate(combos):
        name = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
        passages[f"p{i}"] = f"{name} works as a {job} in {city} and eats {food} every day."
        queries[f"p{i}"] = " ".join(w[::-1].lower() for w in (job, city, food))
    return passages, queries


def _held_out_text(n: int = 256) -> list[str]:
    from pydoc_data.topics import topics

    paras = [
        p.strip()
        for name in sorted(topics)
        for p in topics[name].split("\n\n")
        if 150 < len(p.strip()) < 1200 and not p.strip().startswith((">>>", " "))
    ]
    return random.Random(0).sample(paras, min(n, len(paras)))


def _search(model: Any, passages: dict[str, str]) -> Any:
    ids = list(passages)
    matrix = model.encode([passages[i] for i in ids], normalize_embeddings=True)

    def search(query: str, k: int) -> list[tuple[str, float]]:
        q = model.encode([query], normalize_embeddings=True)[0]
        scores = matrix @ q
        top = np.argsort(-scores)[:k]
        return [(ids[j], float(scores[j])) for j in top]

    return search


def _finetune(base: Any, pairs: list[tuple[str, str]], out: Path) -> Any:
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from sentence_transformers.training_args import BatchSamplers

    model = copy.deepcopy(base)
    data = Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [p for _, p in pairs]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out),
        num_train_epochs=3,
        per_device_train_batch_size=16,
        learning_rate=2e-4,
        warmup_steps=0.1,
        seed=0,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        use_cpu=True,
        disable_tqdm=True,
    )
    SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=losses.MultipleNegativesRankingLoss(model)
    ).train()
    return model


@pytest.fixture(scope="module")
def trained(real_embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    passages, queries = _corpus()
    ids = sorted(passages, key=lambda p: int(p[1:]))
    train_ids, gate_ids = ids[:80], ids[80:]
    gate_eval = RetrievalEvaluator(
        {p: queries[p] for p in gate_ids},
        {p: {p: 1} for p in gate_ids},
        metrics=("ndcg@10", "recall@10", "mrr@10"),
        k=10,
    )
    # The gate queries are frozen: the training side must refuse them.
    frozen = [{"id": p, "query": queries[p], "frozen": True} for p in gate_ids]
    train_pairs = [(queries[p], passages[p]) for p in train_ids]
    assert_trainable([{"query": q, "positive": p} for q, p in train_pairs])
    base = real_embedder.model
    tmp = tmp_path_factory.mktemp("ft")
    good = _finetune(base, train_pairs, tmp / "good")
    shuffled_pos = [p for _, p in train_pairs]
    random.Random(1).shuffle(shuffled_pos)
    bad = _finetune(
        base, [(q, p) for (q, _), p in zip(train_pairs, shuffled_pos, strict=True)], tmp / "bad"
    )
    out: dict[str, Any] = {"frozen": frozen}
    held_out = _held_out_text()
    for name, model in (("champion", base), ("good", good), ("shuffled", bad)):
        out[name] = gate_eval.evaluate(_search(model, passages), model_version=name)
        out[name + "_guards"] = guards.embedding_guards(
            model.encode(held_out, normalize_embeddings=True)
        )
    return out


def test_finetuned_challenger_is_promoted_with_interval(
    trained: dict[str, Any], fake_rag: Any
) -> None:
    champ: EvaluationResult = trained["champion"]
    good: EvaluationResult = trained["good"]
    gate = Gate(GatePolicy(min_improvement=0.02))
    d = gate.decide(
        "retriever",
        champ,
        good,
        challenger_guards=trained["good_guards"],
        reference_guards=trained["champion_guards"],
    )
    print(
        f"zero-shot {champ.mean():.3f} -> fine-tuned {good.mean():.3f}; CI "
        f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}]; guards {d.guards}"
    )
    assert d.promote, d.reasons
    assert d.ci_low > 0.02 and d.ci_low <= d.mean_difference <= d.ci_high
    assert d.n_queries == 40 and d.challenger_score > d.champion_score
    fake_rag.registry.register("minilm-ft", "retriever", "/tmp/minilm-ft")
    stored = gate.record(fake_rag.registry, "minilm-ft", d).gate_decision
    assert stored["decision"] == "promote" and stored["ci_low"] == d.ci_low


def test_retriever_trained_on_shuffled_pairs_is_rejected(trained: dict[str, Any]) -> None:
    d = Gate().decide(
        "retriever",
        trained["champion"],
        trained["shuffled"],
        challenger_guards=trained["shuffled_guards"],
        reference_guards=trained["champion_guards"],
    )
    print(f"shuffled: {trained['shuffled'].mean():.3f}; CI [{d.ci_low:+.3f}, {d.ci_high:+.3f}]")
    assert not d.promote
    assert "not reliably better" in d.reasons[0]
    # Against the well-trained model the degraded one is clearly worse.
    worse = Gate().decide("retriever", trained["good"], trained["shuffled"])
    assert worse.ci_high < 0


def test_better_metric_with_breached_guard_is_rejected(trained: dict[str, Any]) -> None:
    # The same real improvement, but its training set was 90% synthetic (ceiling 0.5).
    share = guards.synthetic_share(["synthetic"] * 72 + ["user"] * 8)
    d = Gate().decide(
        "retriever",
        trained["champion"],
        trained["good"],
        challenger_guards={**trained["good_guards"], "synthetic_share": share},
        reference_guards=trained["champion_guards"],
    )
    assert d.ci_low > 0  # the primary metric did improve
    assert not d.promote
    assert d.guards["synthetic_share"]["breached"]
    assert any("synthetic_share" in r for r in d.reasons)


def test_frozen_gate_queries_refused_for_training(trained: dict[str, Any]) -> None:
    from rsi_rag.errors import FrozenDataError

    with pytest.raises(FrozenDataError, match="marked frozen"):
        assert_trainable(trained["frozen"])
