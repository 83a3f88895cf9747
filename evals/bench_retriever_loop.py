"""Benchmark of the retriever self-improvement loop on SciFact (real data, real models).

Scenarios (each on its own copy of one ingested data directory):

* ``label_free``: cycles trained only on synthetic data from the corpus; the gate set is 50
  train claims imported as a frozen gold set (never trained on).
* ``synthetic_gate``: the same, but the gate set is only held-out synthetic queries.
* ``users``: the 809 train claims arrive as user feedback (each claim with its cited
  abstracts as confirmed citations); 20% are held out to the gate set; plus synthetic data.
* ``five``: five consecutive cycles of the ``users`` setting, the feedback arriving over
  time: the train claims are split into ``--arrivals`` batches, one arriving before each
  cycle (1: all before the first); per-cycle table, plot and stage timings.

The 300 test claims are the frozen report set: registered as frozen, never trained or gated
on. Every figure printed is measured on them, per document (nDCG@10, BEIR's protocol).

Usage::

    python -m evals.bench_retriever_loop --data ../shared/data/scifact --work /tmp/loopbench \\
        --scenarios label_free,users --cycles 1
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from evals.datasets import load_beir
from evals.systems import ingest_corpus

COLLECTION = "scifact"


def _rag(path: Path) -> Any:
    from rsi_rag import RAG

    return RAG(path)


def _doc_ids(rag: Any) -> dict[str, int]:
    return {d.source: d.id for d in rag.documents(COLLECTION)}


def evaluate_test(
    rag: Any, data: Any, modes: tuple[str, ...] = ("dense", "hybrid"), version: str | None = None
) -> dict[str, float]:
    """Document-level nDCG@10 on the 300 test claims: of the serving champion, or (dense
    only) of retriever ``version``."""
    from rsi_rag.evaluation.metrics import ranking_scores
    from rsi_rag.loop.retrieval_eval import document_run

    col = rag.collection(COLLECTION)
    qrels = data.qrels["test"]
    queries = {q: data.queries[q] for q in qrels}
    out: dict[str, float] = {}
    for mode in modes:
        if mode == "dense":
            run = document_run(rag, col, version or col.retriever_version, queries, depth=100)
        else:
            run = {}
            for qid, text in queries.items():
                docs: dict[str, float] = {}
                for h in rag.retrieve(text, COLLECTION, k=100, mode=mode):
                    docs.setdefault(h.source, h.score)
                run[qid] = docs
        if mode == "dense":  # document ids -> corpus ids
            names = {str(v): k for k, v in _doc_ids(rag).items()}
            run = {q: {names[d]: s for d, s in r.items()} for q, r in run.items()}
        per = ranking_scores(qrels, run, ("ndcg@10",))["ndcg@10"]
        out[mode] = sum(per.values()) / len(per)
    return out


def prepare(data: Any, work: Path) -> Path:
    """Ingest the corpus once and freeze the test claims as the report set."""
    from rsi_rag.evaluation.frozen import FrozenSets

    template = work / "template"
    rag = _rag(template)
    started = time.perf_counter()
    added = ingest_corpus(rag, COLLECTION, data.corpus)
    col = rag.collection(COLLECTION)
    FrozenSets(rag.catalog).register(
        col.id,
        "scifact-test",
        [{"id": q, "query": data.queries[q]} for q in data.qrels["test"]],
        role="report",
        format="beir",
        source=str(data.path),
        exist_ok=True,
    )
    print(
        f"ingested {added} abstracts in {time.perf_counter() - started:.0f}s; "
        f"{len(rag.catalog.chunk_ids(col.id))} chunks",
        flush=True,
    )
    rag.close()
    return template


def gate_claims(data: Any, n: int = 50, seed: int = 0) -> list[str]:
    """The train claims imported as the gold gate set."""
    return random.Random(seed).sample(sorted(data.qrels["train"]), n)


def reduce(data: Any, limit: int, seed: int) -> Any:
    """Keep the test claims' and gate claims' documents plus random others, ``limit`` in all.

    Train claims whose documents were dropped are dropped too. Figures on a reduced corpus
    are not comparable with published full-corpus ones (fewer distractors).
    """
    from dataclasses import replace

    if not limit or limit >= len(data.corpus):
        return data
    keep = {p for q in data.qrels["test"].values() for p in q}
    keep |= {p for c in gate_claims(data) for p in data.qrels["train"][c]}
    others = sorted(set(data.corpus) - keep)
    keep |= set(random.Random(seed).sample(others, max(0, min(len(others), limit - len(keep)))))
    train = {q: r for q, r in data.qrels["train"].items() if set(r) <= keep}
    return replace(
        data,
        corpus={k: v for k, v in data.corpus.items() if k in keep},
        qrels={**data.qrels, "train": train},
    )


def import_gold_gate(rag: Any, data: Any, n: int, seed: int) -> int:
    """Import ``n`` train claims as the frozen gold gate set."""
    from rsi_rag.evaluation.frozen import FrozenSets
    from rsi_rag.loop.examples import add_examples

    col = rag.collection(COLLECTION)
    docs = _doc_ids(rag)
    picked = gate_claims(data, n, seed)
    rows = [
        {
            "query": data.queries[q],
            "document_ids": [docs[p] for p in data.qrels["train"][q]],
            "positive_chunk_ids": [],
            "provenance": "gold",
            "method": "import",
            "written_by": "scifact/train",
            "split": "gate",
            "frozen": True,
        }
        for q in picked
    ]
    FrozenSets(rag.catalog).register(
        col.id,
        "scifact-gate",
        [{"id": q, "query": data.queries[q]} for q in picked],
        role="gate",
        exist_ok=True,
    )
    return add_examples(rag.catalog, col.id, rows)


def simulate_users(rag: Any, data: Any, exclude: set[str], claims: list[str] | None = None) -> int:
    """Each train claim (of ``claims``, default all) is asked once and its cited abstracts
    confirmed as citations."""
    col = rag.collection(COLLECTION)
    docs = _doc_ids(rag)
    by_doc: dict[int, list[int]] = {}
    for cid, rec in rag.catalog.chunks(col.id, rag.catalog.chunk_ids(col.id)).items():
        by_doc.setdefault(rec.document_id, []).append(cid)
    n = 0
    for qid, cited in data.qrels["train"].items():
        if qid in exclude or (claims is not None and qid not in claims):
            continue
        chosen = [c for p in cited for c in by_doc.get(docs[p], [])]
        hits = rag.retrieve(data.queries[qid], COLLECTION, k=10)
        retrieved = list(dict.fromkeys([h.chunk_id for h in hits] + chosen))
        iid = rag.catalog.log_interaction(
            col,
            kind="ask",
            query=data.queries[qid],
            retrieved_chunk_ids=retrieved,
            retrieved_scores=[0.0] * len(retrieved),
            model_versions={"retriever": col.retriever_version},
        )
        rag.feedback(iid, chosen_chunk_ids=chosen)
        n += 1
    return n


def arrival_batches(data: Any, n: int, seed: int = 0) -> list[list[str]]:
    """The train claims shuffled and split into ``n`` batches of (nearly) equal size."""
    claims = sorted(data.qrels["train"])
    random.Random(seed).shuffle(claims)
    return [claims[i::n] for i in range(n)]


def run_cycles(
    rag: Any,
    data: Any,
    cycles: int,
    config: Any,
    label: str,
    report_rejected: bool = False,
    arrivals: list[list[str]] | None = None,
) -> list[dict[str, Any]]:
    from rsi_rag.loop.cycle import run_cycle

    rows = []
    for i in range(cycles):
        arrived = 0
        if arrivals and i < len(arrivals):
            arrived = simulate_users(rag, data, set(), arrivals[i])
            print(f"  [{label}] {arrived} claims arrive with feedback", flush=True)
        started = time.perf_counter()
        res = run_cycle(
            rag,
            COLLECTION,
            config=config,
            on_stage=lambda s, i: (
                print(f"  [{label}] {s} {i}", flush=True) if s != "train.step" else None
            ),
        )
        wall = time.perf_counter() - started
        test = evaluate_test(rag, data)
        gate = res.gate or {}
        row = {
            "scenario": label,
            "cycle": res.cycle,
            "claims_arrived": arrived,
            "decision": res.decision,
            "version": rag.collection(COLLECTION).retriever_version,
            "gate_kind": res.synthesis and (gate and "see manifest"),
            "gate_champion": gate.get("champion_score"),
            "gate_challenger": gate.get("challenger_score"),
            "ci": [gate.get("ci_low"), gate.get("ci_high")] if gate else None,
            "guards": {k: round(v["value"], 4) for k, v in gate.get("guards", {}).items()},
            "test_dense": test["dense"],
            "test_hybrid": test["hybrid"],
            "examples": res.examples,
            "synthesis": res.synthesis,
            "train_pairs": res.training.get("pairs"),
            "seconds": res.seconds,
            "wall_s": round(wall, 1),
            "reasons": res.reasons,
        }
        if report_rejected and res.decision == "reject" and res.challenger:
            # For the record only: the rejected challenger on the report set (its index
            # is rebuilt for this and dropped again).
            row["test_dense_rejected"] = evaluate_test(rag, data, ("dense",), res.challenger)[
                "dense"
            ]
            rag.indexes.drop(rag.collection(COLLECTION).id, res.challenger)
        if res.challenger:
            row["gate_kind"] = (
                rag.registry.get(res.challenger).data_manifest.get("gate_set", {}).get("kind")
            )
        rows.append(row)
        print(json.dumps(row, default=str), flush=True)
        if res.decision == "not_enough_data":
            break
    return rows


def table(rows: list[dict[str, Any]], baseline: dict[str, float]) -> str:
    lines = [
        f"baseline (no training): dense {baseline['dense']:.4f}  hybrid "
        f"{baseline['hybrid']:.4f}  bm25 {baseline.get('bm25', float('nan')):.4f}",
        "| scenario | cycle | decision | gate set | gate nDCG champ -> chal | 95% CI | "
        "test dense | test hybrid | eff. rank | train pairs | stage seconds | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ci = r["ci"]
        lines.append(
            f"| {r['scenario']} | {r['cycle']} | {r['decision']} | {r['gate_kind'] or ''} | "
            + (
                f"{r['gate_champion']:.4f} -> {r['gate_challenger']:.4f}"
                if r["gate_champion"] is not None
                else ""
            )
            + " | "
            + (f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "")
            + " | "
            f"{r['test_dense']:.4f}"
            + (
                f" (rejected challenger {r['test_dense_rejected']:.4f})"
                if "test_dense_rejected" in r
                else ""
            )
            + f" | {r['test_hybrid']:.4f} | "
            f"{r['guards'].get('effective_rank', '')} | {r['train_pairs'] or ''} | "
            f"{r['seconds']} | {r['wall_s']} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], baseline: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, gx) = plt.subplots(1, 2, figsize=(11, 4))
    xs = [r["cycle"] for r in rows]
    ax.plot(xs, [r["test_dense"] for r in rows], "o-", label="test dense nDCG@10")
    ax.plot(xs, [r["test_hybrid"] for r in rows], "s-", label="test hybrid nDCG@10")
    ax.axhline(baseline["dense"], ls="--", c="C0", alpha=0.5, label="untrained dense")
    ax.axhline(baseline["hybrid"], ls="--", c="C1", alpha=0.5, label="untrained hybrid")
    for r in rows:
        ax.annotate(r["decision"], (r["cycle"], r["test_dense"]), fontsize=7)
    ax.set_xlabel("cycle")
    ax.set_ylabel("nDCG@10 (SciFact test)")
    ax.legend(fontsize=7)
    # Guards of each cycle's challenger, one axis each (their scales differ).
    names = sorted({g for r in rows for g in r["guards"]})
    axes = [gx] + [gx.twinx() for _ in names[1:2]]
    for i, (name, axis) in enumerate(zip(names, axes, strict=False)):
        axis.plot(xs, [r["guards"].get(name, float("nan")) for r in rows], "o-", c=f"C{i + 2}")
        axis.set_ylabel(f"challenger {name}", color=f"C{i + 2}")
    gx.set_xlabel("cycle")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    from rsi_rag.loop.config import LoopConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact")
    )
    ap.add_argument("--work", default="/tmp/rsi_rag_loop_bench")
    ap.add_argument("--scenarios", default="label_free,synthetic_gate,users,five")
    ap.add_argument("--cycles", type=int, default=2, help="cycles per scenario (five: 5)")
    ap.add_argument("--questions", type=int, default=64, help="generator questions per cycle")
    ap.add_argument("--crops", type=int, default=1000, help="crop/title chunks per cycle")
    ap.add_argument("--epochs", type=int, default=None, help="default: LoopConfig's")
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: LoopConfig's)")
    ap.add_argument(
        "--train-seq", type=int, default=None, help="training sequence length (LoopConfig's)"
    )
    ap.add_argument("--mining-corpus", type=int, default=4000)
    ap.add_argument(
        "--arrivals",
        type=int,
        default=5,
        help="five: the train claims arrive in this many batches, one per cycle",
    )
    ap.add_argument("--json", default=None, help="write every row to this file")
    ap.add_argument(
        "--report-rejected",
        action="store_true",
        help="also measure a rejected challenger's dense nDCG@10 on the test claims",
    )
    ap.add_argument(
        "--corpus-limit",
        type=int,
        default=0,
        help="reduced run: keep the documents of the test claims and of the gold "
        "gate claims plus random others up to this many (0: all 5,183)",
    )
    args = ap.parse_args(argv)
    data = reduce(load_beir(args.data), args.corpus_limit, seed=0)
    work = Path(args.work)
    template = prepare(data, work)
    rag = _rag(template)
    baseline = evaluate_test(rag, data, ("dense", "hybrid", "bm25"))
    rag.close()
    print(f"baseline: {baseline}", flush=True)
    config = LoopConfig(
        questions_per_cycle=args.questions,
        crops_per_cycle=args.crops,
        mining_corpus_size=args.mining_corpus,
        **{
            name: value
            for name, value in (
                ("epochs", args.epochs),
                ("learning_rate", args.lr),
                ("train_max_seq_length", args.train_seq),
            )
            if value is not None
        },
    )
    rows: list[dict[str, Any]] = []
    for scenario in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        target = work / scenario
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(template, target)
        rag = _rag(target)
        gold: set[str] = set()
        arrivals = None
        if scenario == "label_free":
            import_gold_gate(rag, data, 50, seed=0)
        elif scenario == "five":
            arrivals = arrival_batches(data, max(1, args.arrivals))
        elif scenario == "users":
            print(f"users: {simulate_users(rag, data, gold)} claims with feedback", flush=True)
        elif scenario != "synthetic_gate":
            print(f"unknown scenario {scenario!r}", file=sys.stderr)
            return 2
        cycles = 5 if scenario == "five" else args.cycles
        got = run_cycles(rag, data, cycles, config, scenario, args.report_rejected, arrivals)
        rows += got
        if scenario == "five":
            plot(got, baseline, work / "five_cycles.png")
            print(f"plot: {work / 'five_cycles.png'}")
        rag.close()
    print(table(rows, baseline))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"baseline": baseline, "rows": rows}, indent=2, default=str)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
