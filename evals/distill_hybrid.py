"""Label-free distillation of the hybrid ranking into the dense retriever (dev split only).

The fused ranking of the champion's dense scores and BM25 is better on SciFact's claims
than the dense model alone, so it can act as a teacher without any label: corpus passages
give queries (their titles or inverse-cloze crops), the teacher scores a candidate list for
each (the union of the dense and BM25 top hits, each score z-normalized over the list and
summed), and the dense model is trained with
:class:`~sentence_transformers.sentence_transformer.losses.DistillKLDivLoss` to reproduce
the teacher's distribution over that list. Scored like :mod:`evals.tune_retriever`: the 20%
dev claims over their cited abstracts plus seeded distractors; no claim is trained on, and
the test claims are never read.

Usage::

    python -m evals.distill_hybrid --data ../shared/data/scifact --passages 800 \\
        --queries title --exclude-source
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
from evals.tune_retriever import DATA, dev_score, dev_split


def zfuse(dense: Any, lexical: Any) -> Any:
    """Sum of the two score lists, each z-normalized over the candidates."""
    import numpy as np

    def z(x: Any) -> Any:
        x = np.asarray(x, dtype=np.float64)
        return (x - x.mean()) / (x.std() + 1e-6)

    return z(dense) + z(lexical)


class Teacher:
    """Dense cosine plus BM25 over one list of passages."""

    def __init__(self, model: Any, passages: list[str], pool: int) -> None:
        import bm25s

        from rsi_rag.retrieve.bm25 import _stemmer

        self.model, self.pool, self.stem = model, pool, _stemmer()
        self.vectors = model.encode(
            passages, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        self.bm25 = bm25s.BM25()
        self.bm25.index(
            bm25s.tokenize(passages, stopwords="en", stemmer=self.stem, show_progress=False),
            show_progress=False,
        )

    def scores(self, query: str) -> tuple[Any, Any]:
        """Dense and BM25 scores of every passage."""
        import bm25s
        import numpy as np

        vec = self.model.encode([query], normalize_embeddings=True, show_progress_bar=False)[0]
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self.stem, show_progress=False, return_ids=False
        )[0]
        return self.vectors @ vec, np.asarray(self.bm25.get_scores(tokens))

    def rank(self, query: str, subset: Any = None) -> tuple[Any, Any]:
        """Candidate indices in teacher order and their fused scores."""
        import numpy as np

        dense, lexical = self.scores(query)
        if subset is not None:
            dense, lexical = dense[subset], lexical[subset]
        cand = np.union1d(np.argsort(-dense)[: self.pool], np.argsort(-lexical)[: self.pool])
        fused = zfuse(dense[cand], lexical[cand])
        order = np.argsort(-fused)
        return cand[order], fused[order]


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import DistillKLDivLoss
    from sentence_transformers.util import pairwise_dot_score

    from rsi_rag._packaged import packaged_embedder_path
    from rsi_rag.evaluation.metrics import ranking_scores
    from rsi_rag.loop.synthesize import _crop

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--passages", type=int, default=800, help="corpus passages giving queries")
    ap.add_argument("--queries", choices=("title", "crop", "both"), default="title")
    ap.add_argument("--candidates", type=int, default=8, help="passages scored per query")
    ap.add_argument("--pool", type=int, default=30, help="top hits of each scorer pooled")
    ap.add_argument(
        "--exclude-source",
        action="store_true",
        help="drop the passage a query came from (teach only how related passages rank)",
    )
    ap.add_argument("--temperature", type=float, default=0.05, help="student score scale")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--distractors", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    data = load_beir(args.data)
    qrels = data.qrels["train"]
    _, dev, docs, _ = dev_split(data, args.seed, args.distractors)
    cited = {d for q in dev for d in qrels[q]}
    text = {d: f"{e.title}\n{e.text}".strip() for d, e in data.corpus.items()}
    ids = sorted(data.corpus)
    base = str(packaged_embedder_path())
    model = SentenceTransformer(base, device="cpu")
    started = time.perf_counter()
    teacher = Teacher(model, [text[d] for d in ids], args.pool)
    print(f"teacher over {len(ids)} passages in {time.perf_counter() - started:.0f} s", flush=True)

    # How good each scorer is on the dev claims, over the documents dev_score ranks.
    where = {d: i for i, d in enumerate(ids)}
    subset = np.asarray([where[d] for d in docs])
    runs: dict[str, dict[str, dict[str, float]]] = {"dense": {}, "bm25": {}, "teacher": {}}
    for qid in dev:
        dense, lexical = teacher.scores(data.queries[qid])
        for name, s in (("dense", dense[subset]), ("bm25", lexical[subset])):
            top = np.argsort(-s)[:10]
            runs[name][qid] = {docs[j]: float(s[j]) for j in top}
        order, fused = teacher.rank(data.queries[qid], subset)
        runs["teacher"][qid] = {
            docs[j]: float(f) for j, f in zip(order[:10], fused[:10], strict=True)
        }
    rows: list[dict[str, Any]] = []
    for name, run in runs.items():
        per = ranking_scores({q: qrels[q] for q in dev}, run, ("ndcg@10",))["ndcg@10"]
        rows.append({"system": name, "dev_ndcg@10": sum(per.values()) / len(per)})
        print(json.dumps(rows[-1]), flush=True)

    # Label-free queries from passages no dev claim cites.
    pool = [d for d in ids if d not in cited]
    random.Random(args.seed).shuffle(pool)
    qrng = random.Random(args.seed)
    cols: dict[str, list[Any]] = {"query": [], "label": []}
    cols.update({f"passage_{i}": [] for i in range(args.candidates)})
    for d in pool[: args.passages]:
        title = data.corpus[d].title.strip()
        queries = []
        if args.queries in ("title", "both") and len(title.split()) >= 4:
            queries.append(title)
        if args.queries in ("crop", "both"):
            crop = _crop(text[d], qrng, title)
            if crop:
                queries.append(crop)
        for query in queries:
            order, fused = teacher.rank(query)
            if args.exclude_source:
                keep = order != where[d]
                order, fused = order[keep], fused[keep]
            if len(order) < args.candidates:
                continue
            picks = [0, *sorted(qrng.sample(range(1, len(order)), args.candidates - 1))]
            cols["query"].append(query)
            cols["label"].append([float(fused[p]) for p in picks])
            for i, p in enumerate(picks):
                cols[f"passage_{i}"].append(text[ids[order[p]]])
    print(f"{len(cols['query'])} distillation examples", flush=True)

    student = SentenceTransformer(base, device="cpu")
    limit = student.max_seq_length
    student.max_seq_length = min(128, limit)
    scale = 1.0 / args.temperature
    work = Path(tempfile.mkdtemp(prefix="distill_hybrid_"))
    try:
        train_args = SentenceTransformerTrainingArguments(
            output_dir=str(work / "trainer"),
            num_train_epochs=args.epochs,
            per_device_train_batch_size=16,
            learning_rate=args.lr,
            warmup_steps=0.1,
            save_strategy="no",
            report_to="none",
            logging_steps=20,
            disable_tqdm=True,
            seed=args.seed,
            use_cpu=True,
            bf16=True,
        )
        loss = DistillKLDivLoss(
            student, similarity_fct=lambda a, b: pairwise_dot_score(a, b) * scale
        )
        started = time.perf_counter()
        SentenceTransformerTrainer(
            model=student, args=train_args, train_dataset=Dataset.from_dict(cols), loss=loss
        ).train()
        seconds = time.perf_counter() - started
        student.max_seq_length = limit
        student.save(str(work / "model"))
        rows.append(
            {
                "system": f"distilled ({args.queries}, "
                f"{'source excluded' if args.exclude_source else 'source kept'})",
                "dev_ndcg@10": dev_score(str(work / "model"), data, dev, docs, text),
                "examples": len(cols["query"]),
                "train_s": round(seconds, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| system | dev nDCG@10 |\n|---|---|")
    for r in rows:
        print(f"| {r['system']} | {r['dev_ndcg@10']:.4f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
