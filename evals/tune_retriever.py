"""Side-by-side retriever training recipes on SciFact's train claims (dev split only).

Each recipe is a :class:`~rsi_rag.loop.config.LoopConfig` override trained with the loop's
own :func:`~rsi_rag.loop.train_retriever.train_retriever` on the same pairs: 80% of the
train claims, each with its cited abstracts. The other 20% are the dev claims every recipe
is scored on (document nDCG@10 over their cited abstracts plus seeded distractors). The
test claims are never read, so choosing a recipe here does not tune on the report set.

Usage::

    python -m evals.tune_retriever --data ../shared/data/scifact \\
        --recipe "epochs=1;train_max_seq_length=0" --recipe "epochs=3"

With ``--synthetic N`` the recipes train label-free instead: N corpus passages give an
inverse-cloze crop and a title query each (the loop's own synthesis helpers, with the
recipe's ``cloze_keep_fraction``), and no claim is trained on.

A recipe's ``precision`` (``auto``, ``fp32`` or ``bf16``) is the training arithmetic; the
other names are LoopConfig fields. Scoring always encodes in float32.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from evals.datasets import load_beir

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def parse_recipe(text: str) -> dict[str, Any]:
    """``"epochs=3;learning_rate=5e-5"`` -> LoopConfig overrides (values read as JSON)."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, raw = part.partition("=")
        if not sep:
            raise SystemExit(f"recipe part {part!r} is not name=value")
        try:
            out[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[name.strip()] = raw.strip()
    return out


def split_claims(qrels: dict[str, dict[str, int]], seed: int) -> tuple[list[str], list[str]]:
    qids = sorted(qrels)
    random.Random(seed).shuffle(qids)
    n_dev = len(qids) // 5
    return qids[n_dev:], qids[:n_dev]


def dev_split(
    data: Any, seed: int, distractors: int
) -> tuple[list[str], list[str], list[str], random.Random]:
    """Train and dev claims, the documents dev claims are scored over (their cited
    abstracts plus ``distractors`` seeded others), and the seeded generator that drew them."""
    qrels = data.qrels["train"]
    train, dev = split_claims(qrels, seed)
    cited = {d for q in dev for d in qrels[q]}
    rng = random.Random(seed + 1)
    others = sorted(set(data.corpus) - cited)
    rng.shuffle(others)
    return train, dev, sorted(cited) + others[:distractors], rng


def dev_score(
    model_path: str, data: Any, dev: list[str], docs: list[str], text: dict[str, str]
) -> float:
    """Mean document nDCG@10 of the dev claims over ``docs``."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from rsi_rag.evaluation.metrics import ranking_scores

    model = SentenceTransformer(model_path, device="cpu")
    doc_vecs = model.encode([text[d] for d in docs], batch_size=64, normalize_embeddings=True)
    q_vecs = model.encode([data.queries[q] for q in dev], normalize_embeddings=True)
    scores = q_vecs @ doc_vecs.T
    run = {}
    for row, qid in enumerate(dev):
        top = np.argsort(-scores[row])[:10]
        run[qid] = {docs[j]: float(scores[row, j]) for j in top}
    per = ranking_scores({q: data.qrels["train"][q] for q in dev}, run, ("ndcg@10",))["ndcg@10"]
    return sum(per.values()) / len(per)


def synthetic_pairs(passages: list[str], seed: int) -> list[Any]:
    """A crop and a title query for each passage (``title\\ntext``), paired with it whole."""
    from rsi_rag.loop.synthesize import _crop
    from rsi_rag.loop.train_retriever import TrainPair

    rng = random.Random(seed)
    out = []
    for passage in passages:
        title = passage.split("\n", 1)[0].strip()
        if len(title.split()) >= 3:
            out.append(TrainPair(title, passage))
        crop = _crop(passage, rng, title)
        if crop:
            out.append(TrainPair(crop, passage))
    return out


def main(argv: list[str] | None = None) -> int:
    from rsi_rag._packaged import packaged_embedder_path
    from rsi_rag.loop.config import LoopConfig
    from rsi_rag.loop.synthesize import cloze_positive
    from rsi_rag.loop.train_retriever import TrainPair, train_retriever

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument(
        "--recipe", action="append", default=[], help="LoopConfig overrides: name=value;..."
    )
    ap.add_argument("--distractors", type=int, default=2000, help="random uncited abstracts")
    ap.add_argument("--mining-corpus", type=int, default=4000)
    ap.add_argument("--train-limit", type=int, default=0, help="train claims used (0: all)")
    ap.add_argument(
        "--synthetic", type=int, default=0, help="train label-free on N corpus passages"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    data = load_beir(args.data)
    qrels = data.qrels["train"]
    train, dev, docs, rng = dev_split(data, args.seed, args.distractors)
    if args.train_limit:
        train = train[: args.train_limit]
    text = {d: f"{e.title}\n{e.text}".strip() for d, e in data.corpus.items()}
    pairs = [TrainPair(data.queries[q], text[d]) for q in train for d in sorted(qrels[q])]
    pool = sorted(data.corpus)
    rng.shuffle(pool)
    corpus = [text[d] for d in pool[: args.mining_corpus or None]]
    base = str(packaged_embedder_path())
    if args.synthetic:
        pairs = synthetic_pairs([text[d] for d in pool[: args.synthetic]], args.seed)
        train = []
    print(
        f"{len(train)} train claims ({len(pairs)} pairs), {len(dev)} dev claims, "
        f"{len(docs)} documents scored",
        flush=True,
    )

    rows = [{"recipe": "untrained", "dev_ndcg@10": dev_score(base, data, dev, docs, text)}]
    print(json.dumps(rows[0]), flush=True)
    work = Path(tempfile.mkdtemp(prefix="tune_retriever_"))
    try:
        for i, recipe in enumerate(args.recipe):
            overrides = parse_recipe(recipe)
            precision = str(overrides.pop("precision", "auto"))
            config = LoopConfig(**{"seed": args.seed, **overrides})
            if args.synthetic:
                recipe_pairs = [
                    TrainPair(
                        p.query, cloze_positive(p.query, p.positive, config.cloze_keep_fraction)
                    )
                    for p in pairs
                ]
            else:
                recipe_pairs = pairs
            res = train_retriever(
                base,
                recipe_pairs,
                corpus,
                work / f"r{i}",
                config,
                device="cpu",
                precision=precision,
            )
            started = time.perf_counter()
            row = {
                "recipe": recipe,
                "dev_ndcg@10": dev_score(res.path, data, dev, docs, text),
                "precision": res.precision,
                "triplets": res.triplets,
                "steps": res.steps,
                "train_s": round(res.seconds, 1),
                "score_s": round(time.perf_counter() - started, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(res.path, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| recipe | dev nDCG@10 | triplets | steps | train s |\n|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['recipe']} | {r['dev_ndcg@10']:.4f} | {r.get('triplets', '')} | "
            f"{r.get('steps', '')} | {r.get('train_s', '')} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
