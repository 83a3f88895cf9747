"""Generator self-improvement on COVID-QA: base figures, one gated adapter cycle, abstention,
verification on/off, and the collapse demonstration (replace against accumulate regimes).

Usage::

    python -m evals.bench_generator_loop covid --sample 100 --out runs/gen/covid.json
    python -m evals.bench_generator_loop collapse --cycles 3 --out runs/gen/collapse.json
    python -m evals.bench_generator_loop retriever --source runs/gen/covid-data \
        --out runs/gen/covid_retriever.json

Articles are split by ``doc_id``: train-side articles give user corrections (their questions
and gold answers, logged against real retrievals), eval-side articles give the frozen report
set and a disjoint gate set. Every figure printed is measured in the run that prints it.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path
from typing import Any

from evals._common import SHARED_DATA

DATA = SHARED_DATA / "covidqa"


def load(root: Path = DATA) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    if not (root / "corpus.jsonl").is_file() or not (root / "questions.jsonl").is_file():
        raise SystemExit(
            f"COVID-QA not found at {root} (corpus.jsonl and questions.jsonl); "
            "set RSI_RAG_SHARED_DATA to the folder that holds covidqa/"
        )
    corpus = {}
    for line in (root / "corpus.jsonl").open():
        row = json.loads(line)
        corpus[row["_id"]] = row
    questions = [json.loads(line) for line in (root / "questions.jsonl").open()]
    return corpus, [q for q in questions if q["answers"] and q["gold_pids"]]


def split(questions: list[dict[str, Any]], seed: int = 0) -> tuple[list[Any], list[Any], set[str]]:
    docs = sorted({q["doc_id"] for q in questions})
    random.Random(seed).shuffle(docs)
    train_docs = set(docs[: len(docs) // 2])
    train = [q for q in questions if q["doc_id"] in train_docs]
    evals = [q for q in questions if q["doc_id"] not in train_docs]
    return train, evals, train_docs


def gold_item(q: dict[str, Any], corpus: dict[str, Any]) -> Any:
    from rsi_rag.loop.generator_eval import QAItem

    ctx = tuple(corpus[p]["text"] for p in q["gold_pids"][:1])
    return QAItem(f"q{q['id']}", q["question"], ctx, tuple(q["answers"]))


def open_rag(
    data_dir: Path, corpus: dict[str, Any], mode: str = "dense", ingest: bool = True
) -> Any:
    from rsi_rag import RAG
    from rsi_rag.config import RAGConfig
    from rsi_rag.types import SourceDocument

    cfg = RAGConfig(
        max_new_tokens=48, chunk_size=512, chunk_overlap=0, context_k=3, retrieval_mode=mode
    )
    rag = RAG(data_dir, cfg)
    if not any(c.name == "covid" for c in rag.collections()):
        if not ingest:
            raise SystemExit(f"{data_dir} has no collection 'covid'; it is not a `covid` run")
        docs = (SourceDocument(pid, row["text"]) for pid, row in corpus.items())
        rag.ingest_documents(docs, "covid", total=len(corpus), progress=True)
    return rag


def retrieved_item(
    rag: Any, q: dict[str, Any], k: int = 10, mode: str | None = None, context_k: int = 3
) -> tuple[Any, float, float]:
    """The item with the top ``context_k`` retrieved passages as context, and hit@3, hit@10."""
    from rsi_rag.loop.generator_eval import QAItem

    hits = rag.retrieve(q["question"], "covid", k, mode=mode)
    gold = set(q["gold_pids"])
    sources = [h.source for h in hits]
    ctx = tuple(h.text for h in hits[:context_k])
    item = QAItem(f"q{q['id']}", q["question"], ctx, tuple(q["answers"]))
    return item, float(bool(gold & set(sources[:3]))), float(bool(gold & set(sources[:10])))


def paired(before: Any, after: Any, metric: str) -> dict[str, float]:
    from rsi_rag.loop.gate import paired_bootstrap_ci

    a, b = before.scores(metric), after.scores(metric)
    diffs = [b[q] - a[q] for q in sorted(a)]
    low, high, _ = paired_bootstrap_ci(diffs, seed=0)
    return {
        "before": before.mean(metric),
        "after": after.mean(metric),
        "diff": sum(diffs) / len(diffs),
        "ci_low": low,
        "ci_high": high,
    }


ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def lora_config(
    lr: float, steps: int, batch: int, accum: int, max_length: int, *, rank: int = 16, **kw: Any
) -> Any:
    """The benchmarks' adapter recipe: LoRA on every linear layer, alpha twice the rank."""
    from rsi_rag.loop.train_generator import LoRATrainingConfig

    return LoRATrainingConfig(
        rank=rank,
        alpha=2 * rank,
        learning_rate=lr,
        max_steps=steps,
        batch_size=batch,
        grad_accum=accum,
        max_length=max_length,
        target_modules=ALL_LINEAR,
        **kw,
    )


def one_cycle(
    rag: Any,
    args: argparse.Namespace,
    out: dict[str, Any],
    corpus: dict[str, Any],
    gate_q: list[Any],
    report_q: list[Any],
    heldout: list[str],
    extra: list[Any],
    **kw: Any,
) -> Any:
    """One gated generator cycle on collection ``covid``, recorded in ``out`` and printed."""
    from rsi_rag.loop.generator_cycle import run_generator_cycle

    cfg = lora_config(
        args.lr,
        args.steps,
        args.batch,
        args.accum,
        args.max_length,
        save_every=10,
        top_layers=args.top_layers,
    )
    started = time.perf_counter()
    report = run_generator_cycle(
        rag,
        "covid",
        gate_items=[gold_item(q, corpus) for q in gate_q],
        heldout_texts=heldout,
        cycle=1,
        extra_examples=extra,
        train_config=cfg,
        frozen_questions=[q["question"] for q in report_q],
        progress=True,
        **kw,
    )
    out["cycle"] = {**report.__dict__, "wall_seconds": time.perf_counter() - started}
    keys = ("version", "promoted", "train", "manifest", "guards")
    print("cycle", json.dumps({k: out["cycle"][k] for k in keys}), flush=True)
    print("decision", report.decision["reasons"], flush=True)
    _dump(out, args.out)
    return report


def _dump(out: dict[str, Any], path: str) -> None:
    out["peak_rss_mb"] = rss_mb()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, indent=2, default=str))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def covid(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from rsi_rag.loop.generator_cycle import promote_generator
    from rsi_rag.loop.generator_data import (
        abstention_example,
        collect_user_examples,
        synthetic_examples,
    )
    from rsi_rag.loop.generator_eval import GeneratorEvaluator

    torch.set_num_threads(args.threads)
    out: dict[str, Any] = {"args": vars(args)}
    corpus, questions = load()
    train_q, eval_q, _ = split(questions)
    rng = random.Random(0)
    rng.shuffle(eval_q)
    report_q, gate_q = eval_q[: args.sample], eval_q[args.sample : args.sample + args.gate]
    rag = open_rag(Path(args.data_dir), corpus, args.retrieval_mode)
    col = rag.collection("covid")
    t0 = time.perf_counter()
    # The untrained system retrieves densely; the served one in --retrieval-mode.
    modes = ["dense"] if args.retrieval_mode == "dense" else ["dense", args.retrieval_mode]
    by_mode = {
        m: [retrieved_item(rag, q, mode=m) for q in report_q[: args.retrieved_sample]]
        for m in modes
    }
    out["retrieval"] = {
        m: {
            "hit@3": sum(r[1] for r in rs) / len(rs),
            "hit@10": sum(r[2] for r in rs) / len(rs),
            "n": len(rs),
        }
        for m, rs in by_mode.items()
    }
    print("retrieval", out["retrieval"], flush=True)
    ret = by_mode[args.retrieval_mode]
    _dump(out, args.out)
    gold_eval = GeneratorEvaluator([gold_item(q, corpus) for q in report_q], args.max_new_tokens)
    ret_eval = GeneratorEvaluator([r[0] for r in ret], args.max_new_tokens)
    base_gold = gold_eval.evaluate(rag.generator, model_version="base")
    print("base gold-context", base_gold.summary(), flush=True)
    _dump(out, args.out)
    base_ret = ret_eval.evaluate(rag.generator, model_version="base")
    print(f"base retrieved-context ({args.retrieval_mode})", base_ret.summary(), flush=True)
    base_dense = base_ret
    if args.retrieval_mode != "dense":
        dense_eval = GeneratorEvaluator([r[0] for r in by_mode["dense"]], args.max_new_tokens)
        base_dense = dense_eval.evaluate(rag.generator, model_version="base")
        print("base retrieved-context (dense)", base_dense.summary(), flush=True)
    _dump(out, args.out)
    out["base"] = {
        "gold": base_gold.summary(),
        "retrieved": base_ret.summary(),
        "retrieved_dense": base_dense.summary(),
        "seconds": time.perf_counter() - t0,
    }

    # User corrections: real retrievals logged as interactions, the gold answer as the
    # correction (generation skipped here only for cost: the example holds the same context).
    rng.shuffle(train_q)
    users = train_q[: args.users]
    for q in users:
        hits = rag.retrieve(q["question"], "covid", 10)
        iid = rag.catalog.log_interaction(
            col,
            kind="ask",
            query=q["question"],
            retrieved_chunk_ids=[h.chunk_id for h in hits],
            retrieved_scores=[h.score for h in hits],
            answer="",
            abstained=False,
            model_versions={},
            latency_ms=0.0,
        )
        rag.feedback(iid, rating=-1, correction=q["answers"][0])
    extra = []
    for q in train_q[args.users : args.users + args.abstain]:
        hits = rag.retrieve(q["question"], "covid", 10)
        ctx = [
            h.text
            for h in hits
            if h.source not in q["gold_pids"]
            and not any(a.lower() in h.text.lower() for a in q["answers"])
        ][:3]
        if ctx:
            extra.append(abstention_example(q["question"], ctx, q["answers"], source=f"q{q['id']}"))
    synth_src = train_q[args.users + args.abstain : args.users + args.abstain + args.synthetic]
    by_pid = {h: i for i, h in enumerate(corpus)}
    synth, rejected = synthetic_examples(
        rag.generator,
        [
            (q["question"], corpus[q["gold_pids"][0]]["text"], by_pid[q["gold_pids"][0]], 0)
            for q in synth_src
        ],
        max_new_tokens=args.max_new_tokens,
    )
    extra.extend(synth)
    grounded = collect_user_examples(rag, "covid")
    below = [e.meta["grounded_from_rank"] for e in grounded if "grounded_from_rank" in e.meta]
    out["data"] = {
        "user_corrections_logged": len(users),
        "corrections_supported_in_prompt": len(grounded) - len(below),
        "corrections_grounded_further_down": len(below),
        "corrections_unsupported": len(users) - len(grounded),
        "abstention": len([e for e in extra if e.provenance == "abstention"]),
        "synthetic_kept": len(synth),
        "synthetic_rejected": rejected,
    }
    print("data", out["data"], flush=True)
    _dump(out, args.out)
    heldout = [
        row["text"]
        for pid, row in corpus.items()
        if row.get("doc_id") not in {q["doc_id"] for q in train_q}
    ][: args.heldout]
    report = one_cycle(rag, args, out, corpus, gate_q, report_q, heldout, extra)
    if not report.promoted:  # report the challenger's figures even when the gate refused it
        rag.adapters.load(report.version, rag.registry.get(report.version).path)
    gen = rag.adapters.generator(report.version)
    ad_gold = gold_eval.evaluate(gen, model_version=report.version)
    ad_ret = ret_eval.evaluate(gen, model_version=report.version)
    out["adapter"] = {"gold": ad_gold.summary(), "retrieved": ad_ret.summary()}
    out["paired"] = {
        "gold_f1": paired(base_gold, ad_gold, "answer_f1"),
        "gold_em": paired(base_gold, ad_gold, "exact_match"),
        "retrieved_f1": paired(base_ret, ad_ret, "answer_f1"),
        "retrieved_em": paired(base_ret, ad_ret, "exact_match"),
        # The untrained system (dense retrieval, base model) against the served one.
        "system_f1": paired(base_dense, ad_ret, "answer_f1"),
        "system_em": paired(base_dense, ad_ret, "exact_match"),
    }
    print("paired", json.dumps(out["paired"], indent=1), flush=True)
    _dump(out, args.out)
    if report.promoted:
        promote_generator(rag, "covid", report.version)
    out["abstention"] = abstention(
        rag, report_q[: args.abstain_eval], corpus, gen, args.max_new_tokens
    )
    print("abstention", out["abstention"], flush=True)
    _dump(out, args.out)
    out["verify"] = verification(
        rag, [r[0] for r in ret[: args.verify_n]], gen, args.max_new_tokens
    )
    print("verify", out["verify"], flush=True)
    _dump(out, args.out)
    out["peak_rss_mb"] = rss_mb()
    return out


def abstention_contexts(rag: Any, q: dict[str, Any]) -> list[tuple[int, list[Any]]]:
    """(1, the top 3) when they hold the gold passage; (0, the first three of the top 10 that
    are neither the gold passage nor contain a gold answer) when there are such passages."""
    hits = rag.retrieve(q["question"], "covid", 10)
    gold = set(q["gold_pids"])
    out: list[tuple[int, list[Any]]] = []
    if gold & {h.source for h in hits[:3]}:
        out.append((1, hits[:3]))
    without = [
        h
        for h in hits
        if h.source not in gold and not any(a.lower() in h.text.lower() for a in q["answers"])
    ][:3]
    if without:
        out.append((0, without))
    return out


def abstention(rag: Any, qs: list[Any], corpus: dict[str, Any], gen: Any, mnt: int) -> dict:
    """Answerable (top-3 retrieved) vs unanswerable (gold chunk removed from the context)."""
    from rsi_rag.generate.citations import is_abstention
    from rsi_rag.generate.prompts import build_messages

    res: dict[str, Any] = {}
    for name, g in (("base", rag.generator), ("adapter", gen)):
        counts = {0: [0, 0], 1: [0, 0]}  # answerable: [abstained, contexts]
        for q in qs:
            for answerable, hits in abstention_contexts(rag, q):
                counts[answerable][1] += 1
                counts[answerable][0] += is_abstention(
                    g.generate(build_messages(q["question"], hits), mnt)
                )
        res[name] = {
            "abstain_when_unanswerable": counts[0][0] / max(counts[0][1], 1),
            "n_unanswerable": counts[0][1],
            "abstain_when_answerable": counts[1][0] / max(counts[1][1], 1),
            "n_answerable": counts[1][1],
        }
    return res


def verification(rag: Any, items: list[Any], gen: Any, mnt: int) -> dict[str, Any]:
    from rsi_rag.evaluation.metrics import groundedness, token_f1
    from rsi_rag.generate.citations import is_abstention
    from rsi_rag.generate.prompts import ABSTAIN_TEXT, build_messages
    from rsi_rag.generate.verify import Verifier, VerifyConfig
    from rsi_rag.loop.generator_eval import strip_markers

    out: dict[str, Any] = {}
    ver = Verifier(VerifyConfig(candidates=4))
    for mode in ("off", "on"):
        f1 = gr = ab = 0.0
        t = time.perf_counter()
        for it in items:
            if mode == "off":
                text = gen.generate(build_messages(it.question, it.hits()), mnt)
            else:
                text = ver.choose(it.question, it.hits(), gen, mnt)
            if is_abstention(text) or text == ABSTAIN_TEXT:
                ab += 1
                continue
            f1 += token_f1(strip_markers(text), it.answers)
            gr += groundedness(strip_markers(text), it.contexts)
        n = len(items)
        out[mode] = {
            "answer_f1": f1 / n,
            "groundedness_of_answered": gr / max(n - ab, 1),
            "abstained": ab / n,
            "seconds_per_query": (time.perf_counter() - t) / n,
        }
    return out


def _options(parser: argparse.ArgumentParser, **defaults: Any) -> None:
    """``--name`` options typed and defaulted by ``defaults`` (underscores become dashes)."""
    for name, value in defaults.items():
        kind = type(value) if isinstance(value, (int, float)) else str
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("covid")
    _options(
        c,
        sample=100,
        retrieved_sample=100,
        gate=40,
        users=200,
        abstain=40,
        synthetic=20,
        heldout=20,
        steps=40,
        batch=2,
        accum=4,
    )
    c.add_argument(
        "--top-layers", type=int, default=None, help="LoRA in the last N blocks only (default: all)"
    )
    _options(c, lr=5e-4)
    c.add_argument(
        "--retrieval-mode",
        choices=("dense", "hybrid"),
        default="dense",
        help="retrieval the service answers with (the untrained baseline is always dense)",
    )
    _options(
        c,
        max_length=768,
        max_new_tokens=48,
        abstain_eval=30,
        verify_n=20,
        threads=2,
        data_dir="runs/gen/covid-data",
        out="runs/gen/covid.json",
    )
    c.add_argument(
        "--gold-only",
        action="store_true",
        help="generator loop alone on gold context (no retriever, much cheaper)",
    )
    r = sub.add_parser(
        "retriever",
        help="a retriever cycle on the user corrections a `covid` run logged, then the "
        "answers again with the promoted retriever",
    )
    r.add_argument("--source", default="runs/gen/covid-data", help="a `covid` run's data dir")
    _options(
        r,
        work_dir="runs/gen/covid-retriever",
        sample=100,
    )
    r.add_argument("--retrieval-mode", choices=("dense", "hybrid"), default="hybrid")
    _options(r, max_new_tokens=48)
    r.add_argument(
        "--context-k",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[3],
        help="passages in the prompt, a comma-separated list to compare (default 3)",
    )
    _options(
        r,
        threads=2,
        out="runs/gen/covid_retriever.json",
    )
    d = sub.add_parser(
        "reader",
        help="a second generator cycle on the same corrections, reading one passage at a time, "
        "after a `retriever` run",
    )
    d.add_argument("--source", default="runs/gen/covid-retriever", help="a `retriever` work dir")
    _options(
        d,
        work_dir="runs/gen/covid-reader",
        sample=100,
        gate=80,
        heldout=20,
    )
    d.add_argument("--context-k", type=int, default=3, help="passages read, one at a time")
    _options(
        d,
        negative_rate=0.0,
        steps=160,
        batch=4,
        accum=2,
        lr=3e-4,
        top_layers=12,
        max_length=768,
        max_new_tokens=48,
        abstain_eval=30,
        threads=2,
        out="runs/gen/covid_reader.json",
    )
    k = sub.add_parser("collapse")
    _options(
        k,
        cycles=3,
        train_questions=24,
        gate=16,
        steps=12,
        lr=2e-3,
        rank=8,
        batch=2,
        accum=2,
    )
    k.add_argument(
        "--top-layers",
        type=int,
        default=None,
        help="LoRA on every linear layer of the last N blocks (default: attention of all)",
    )
    _options(
        k,
        threads=2,
        max_new_tokens=24,
        work_dir="runs/gen/collapse",
        out="runs/gen/collapse.json",
    )
    args = p.parse_args()
    started = time.perf_counter()
    if args.cmd == "covid":
        result = covid_gold(args) if args.gold_only else covid(args)
    elif args.cmd == "retriever":
        result = retriever_cycle(args)
    elif args.cmd == "reader":
        result = reader_cycle(args)
    else:
        import torch

        from evals.generator_collapse import collapse_demo

        torch.set_num_threads(args.threads)
        corpus, questions = load()
        train_q, eval_q, _ = split(questions)
        result = collapse_demo(corpus, train_q, eval_q, args)
    result["wall_seconds"] = time.perf_counter() - started
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out} ({result['wall_seconds']:.0f} s, peak RSS {rss_mb():.0f} MiB)")


def ranked_items(qs: list[Any], ranked: dict[Any, list[Any]], k: int) -> list[Any]:
    """Each question with the top ``k`` passages of its ranking (by question id) as context."""
    from rsi_rag.loop.generator_eval import QAItem

    return [
        QAItem(
            f"q{q['id']}",
            q["question"],
            tuple(h.text for h in ranked[q["id"]][:k]),
            tuple(q["answers"]),
        )
        for q in qs
    ]


def retrieval_hits(rag: Any, qs: list[Any], modes: tuple[str, ...]) -> dict[str, Any]:
    """hit@3 and hit@10 of the collection's champion retriever, per retrieval mode."""
    rows = {m: [retrieved_item(rag, q, mode=m)[1:] for q in qs] for m in modes}
    return {
        m: {
            "hit@3": sum(r[0] for r in rs) / len(rs),
            "hit@10": sum(r[1] for r in rs) / len(rs),
            "n": len(rs),
        }
        for m, rs in rows.items()
    }


def copy_run(source: Path, work: Path, make: str) -> Path:
    """A fresh copy of the finished run in ``source`` at ``work``, which must lie outside it.

    ``make`` names the subcommand (and its data-dir option) that produces such a run.
    """
    import shutil

    if not (source / "catalog.db").is_file():
        raise SystemExit(
            f"{source} holds no catalog.db; run `python -m evals.bench_generator_loop {make} "
            f"{source}` first, or pass --source the data dir of such a run"
        )
    if work.resolve() == source.resolve() or source.resolve() in work.resolve().parents:
        raise SystemExit(
            f"--work-dir {work} would overwrite the run in --source {source}; "
            "pass a work dir outside it"
        )
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(source, work)
    return work


def retriever_cycle(args: argparse.Namespace) -> dict[str, Any]:
    """The retriever loop on the users' logged corrections, after the generator's cycle.

    A copy of a `covid` run's data dir (its corrections logged against real retrievals, its
    generator adapter promoted) runs one retriever cycle: each correction's best supporting
    retrieved chunk becomes a positive, a seeded fifth of the queries forms the gate set, and
    crops of the articles add label-free pairs. The report questions (eval-side articles, never
    logged) are then answered again: the base model against the promoted adapter, both with
    the promoted retriever, and the untrained system (base model, dense retrieval with the
    base retriever) against the served one.
    """
    import torch

    from rsi_rag.loop.cycle import run_cycle
    from rsi_rag.loop.generator_eval import GeneratorEvaluator

    torch.set_num_threads(args.threads)
    work = copy_run(Path(args.source), Path(args.work_dir), "covid --data-dir")
    out: dict[str, Any] = {"args": vars(args)}
    corpus, questions = load()
    _, eval_q, _ = split(questions)
    random.Random(0).shuffle(eval_q)
    report_q = eval_q[: args.sample]
    rag = open_rag(work, corpus, args.retrieval_mode, ingest=False)
    col = rag.collection("covid")
    if col.generator_version in ("base", ""):
        raise SystemExit(f"{args.source} has no promoted generator adapter for 'covid'")
    out["champions_before"] = {
        "retriever": col.retriever_version,
        "generator": col.generator_version,
    }
    modes = ("dense", "hybrid")
    out["retrieval_before"] = {
        "report": retrieval_hits(rag, report_q, modes),
        "eval_side": retrieval_hits(rag, eval_q, modes),
    }
    print("retrieval before", out["retrieval_before"], flush=True)
    untrained = GeneratorEvaluator(
        [retrieved_item(rag, q, mode="dense")[0] for q in report_q], args.max_new_tokens
    ).evaluate(rag.generator, model_version="base")
    print("base model, base retriever, dense", untrained.summary(), flush=True)
    _dump(out, args.out)
    started = time.perf_counter()
    cycle = run_cycle(
        rag,
        "covid",
        use_generator=False,
        on_stage=lambda s, i: print("stage", s, i, flush=True) if s != "train.step" else None,
    )
    out["cycle"] = {**cycle.to_dict(), "wall_seconds": time.perf_counter() - started}
    print("cycle", cycle.decision, cycle.reasons, cycle.examples, cycle.seconds, flush=True)
    _dump(out, args.out)
    if cycle.decision != "promote":
        return out
    col = rag.collection("covid")
    out["retrieval_after"] = {
        "report": retrieval_hits(rag, report_q, modes),
        "eval_side": retrieval_hits(rag, eval_q, modes),
    }
    print("retrieval after", out["retrieval_after"], flush=True)
    out["answers"] = {"untrained_system": untrained.summary()}
    out["paired"] = {}
    adapter_gen = rag.generator_for(col)
    ranked = {
        q["id"]: rag.retrieve(q["question"], "covid", 10, mode=args.retrieval_mode)
        for q in report_q
    }
    for k in args.context_k:
        items = ranked_items(report_q, ranked, k)
        gold_in = sum(
            bool(set(q["gold_pids"]) & {h.source for h in ranked[q["id"]][:k]}) for q in report_q
        )
        served = GeneratorEvaluator(items, args.max_new_tokens)
        adapter = served.evaluate(adapter_gen, model_version=col.generator_version)
        print(f"adapter, promoted retriever, top {k}", adapter.summary(), flush=True)
        base = served.evaluate(rag.generator, model_version="base")
        print(f"base model, promoted retriever, top {k}", base.summary(), flush=True)
        out["answers"][f"top{k}"] = {
            "gold_in_context": gold_in / len(items),
            "base": base.summary(),
            "adapter": adapter.summary(),
        }
        out["paired"][f"top{k}"] = {
            "retrieved_f1": paired(base, adapter, "answer_f1"),
            "retrieved_em": paired(base, adapter, "exact_match"),
            "system_f1": paired(untrained, adapter, "answer_f1"),
            "system_em": paired(untrained, adapter, "exact_match"),
        }
        print(f"paired, top {k}", json.dumps(out["paired"][f"top{k}"], indent=1), flush=True)
        _dump(out, args.out)
    return out


def reader_cycle(args: argparse.Namespace) -> dict[str, Any]:
    """The generator loop once more, now training and serving a reader of one passage at a time.

    A copy of a `retriever` run's work dir (generator adapter and retriever both promoted on
    the users' logged corrections) runs a second generator cycle with
    ``reading="per_passage"``: the same corrections become single-passage examples (the
    passage that supports the answer, and for a ``--negative-rate`` share of them a passage of
    the same prompt that lacks it, with the abstention answer) and the gate reads one passage
    at a time. The report questions are answered before and after, each reading against the
    untrained system (base model, base retriever, dense top 3 in one prompt), and the
    abstention contexts are read the same way.
    """
    import dataclasses

    import torch

    from rsi_rag.generate.citations import is_abstention
    from rsi_rag.loop.generator_cycle import run_generator_cycle
    from rsi_rag.loop.generator_eval import GeneratorEvaluator

    torch.set_num_threads(args.threads)
    work = copy_run(Path(args.source), Path(args.work_dir), "retriever --work-dir")
    out: dict[str, Any] = {"args": vars(args)}
    corpus, questions = load()
    train_q, eval_q, _ = split(questions)
    random.Random(0).shuffle(eval_q)
    report_q = eval_q[: args.sample]
    gate_q = eval_q[args.sample : args.sample + args.gate]
    rag = open_rag(work, corpus, "hybrid", ingest=False)
    col = rag.collection("covid")
    base_retriever = rag.registry.get(col.retriever_version).parent_id
    if col.generator_version in ("base", "") or base_retriever is None:
        raise SystemExit(
            f"{args.source} needs a promoted generator adapter and a promoted retriever for "
            "'covid'; pass --source the work dir of a `retriever` run that promoted"
        )
    first_adapter = col.generator_version
    out["champions_before"] = {"retriever": col.retriever_version, "generator": first_adapter}

    base_col = dataclasses.replace(col, retriever_version=base_retriever)
    dense = rag.retriever(base_col, "dense")
    untrained_ranked = {q["id"]: dense.retrieve(base_col, q["question"], 10) for q in report_q}
    ranked = {q["id"]: rag.retrieve(q["question"], "covid", 10, mode="hybrid") for q in report_q}
    k = args.context_k
    out["gold_in_top"] = {
        n: sum(
            bool(set(q["gold_pids"]) & {h.source for h in ranked[q["id"]][:n]}) for q in report_q
        )
        / len(report_q)
        for n in range(1, k + 1)
    }
    results: dict[str, Any] = {}

    def run(name: str, gen: Any, its: list[Any], reading: str) -> Any:
        ev = GeneratorEvaluator(its, args.max_new_tokens, reading)
        started = time.perf_counter()
        res = ev.evaluate(gen, model_version=name)
        results[name] = res
        out.setdefault("answers", {})[name] = {
            **res.summary(),
            "abstained": sum(map(is_abstention, ev.outputs.values())) / len(its),
            "passages_read": sum(ev.passages_read.values()) / len(its),
            "seconds_per_query": (time.perf_counter() - started) / len(its),
        }
        print(name, json.dumps(out["answers"][name]), flush=True)
        _dump(out, args.out)
        return res

    untrained = "untrained: base, base retriever, dense top 3"
    run(untrained, rag.generator, ranked_items(report_q, untrained_ranked, 3), "joint")
    first = rag.generator_for(col)
    run("cycle-1 adapter, joint top 1", first, ranked_items(report_q, ranked, 1), "joint")
    run(
        f"cycle-1 adapter, per passage top {k}",
        first,
        ranked_items(report_q, ranked, k),
        "per_passage",
    )
    heldout = [
        row["text"]
        for row in corpus.values()
        if row.get("doc_id") not in {q["doc_id"] for q in train_q}
    ][: args.heldout]
    started = time.perf_counter()
    report = run_generator_cycle(
        rag,
        "covid",
        gate_items=[gold_item(q, corpus) for q in gate_q],
        heldout_texts=heldout,
        cycle=2,
        train_config=lora_config(
            args.lr,
            args.steps,
            args.batch,
            args.accum,
            args.max_length,
            save_every=20,
            top_layers=args.top_layers,
        ),
        frozen_questions=[q["question"] for q in report_q],
        progress=True,
        max_new_tokens=args.max_new_tokens,
        reading="per_passage",
        negative_rate=args.negative_rate,
    )
    out["cycle"] = {**report.__dict__, "wall_seconds": time.perf_counter() - started}
    keys = ("version", "promoted", "train", "manifest", "guards")
    print("cycle", json.dumps({n: out["cycle"][n] for n in keys}, default=str), flush=True)
    print("decision", report.decision["reasons"], flush=True)
    _dump(out, args.out)
    if not report.promoted:  # report the challenger's figures even when the gate refused it
        rag.adapters.load(report.version, rag.registry.get(report.version).path)
    second = rag.adapters.generator(report.version)
    run(
        f"cycle-2 reader, per passage top {k}",
        second,
        ranked_items(report_q, ranked, k),
        "per_passage",
    )
    run("cycle-2 reader, joint top 1", second, ranked_items(report_q, ranked, 1), "joint")
    served = results[f"cycle-2 reader, per passage top {k}"]
    out["paired"] = {
        against: paired(results[against], served, "answer_f1")
        for against in (
            untrained,
            "cycle-1 adapter, joint top 1",
            f"cycle-1 adapter, per passage top {k}",
        )
    }
    print("paired", json.dumps(out["paired"], indent=1), flush=True)
    out["abstention"] = {
        name: passage_abstention(rag, report_q[: args.abstain_eval], gen, args.max_new_tokens)
        for name, gen in (("cycle-1 adapter", first), ("cycle-2 reader", second))
    }
    print("abstention, per passage", json.dumps(out["abstention"]), flush=True)
    _dump(out, args.out)
    return out


def passage_abstention(rag: Any, qs: list[Any], gen: Any, mnt: int) -> dict[str, Any]:
    """Abstention when each passage is read alone: the answerable and unanswerable contexts of
    :func:`abstention_contexts`, abstaining only when every passage does."""
    from rsi_rag.generate.reading import read_each

    counts = {0: [0, 0], 1: [0, 0]}  # answerable: [abstained, contexts]
    for q in qs:
        for answerable, hits in abstention_contexts(rag, q):
            counts[answerable][1] += 1
            counts[answerable][0] += read_each(gen, q["question"], hits, mnt)[1] is None
    return {
        "abstain_when_unanswerable": counts[0][0] / max(counts[0][1], 1),
        "n_unanswerable": counts[0][1],
        "abstain_when_answerable": counts[1][0] / max(counts[1][1], 1),
        "n_answerable": counts[1][1],
    }


def covid_gold(args: argparse.Namespace) -> dict[str, Any]:
    """The generator loop alone, with gold context (no retriever: cheap enough for 2 cores).

    Articles are ingested with the hashing fake embedder (retrieval is not measured here);
    each train-side question is logged as an interaction whose context is its gold chunk,
    with the gold answer as the user's correction, then one gated cycle runs.
    """
    import torch

    from rsi_rag import RAG
    from rsi_rag.config import RAGConfig
    from rsi_rag.generate import HFGenerator
    from rsi_rag.loop.generator_data import abstention_example
    from rsi_rag.loop.generator_eval import GeneratorEvaluator
    from rsi_rag.store.models import Chunk, Document
    from rsi_rag.testing import FakeEmbedder
    from rsi_rag.types import SourceDocument

    torch.set_num_threads(args.threads)
    out: dict[str, Any] = {"args": vars(args)}
    corpus, questions = load()
    train_q, eval_q, _ = split(questions)
    rng = random.Random(0)
    rng.shuffle(eval_q)
    rng.shuffle(train_q)
    report_q, gate_q = eval_q[: args.sample], eval_q[args.sample : args.sample + args.gate]
    users, abst_q = train_q[: args.users], train_q[args.users : args.users + args.abstain]
    gen = HFGenerator(device="cpu")
    rag = RAG(
        Path(args.data_dir),
        RAGConfig(chunk_size=2048, chunk_overlap=0),
        embedder=FakeEmbedder(),
        generator=gen,
    )
    pids = {p for q in users for p in q["gold_pids"][:1]}
    rag.ingest_documents((SourceDocument(p, corpus[p]["text"]) for p in sorted(pids)), "covid")
    col = rag.collection("covid")
    with rag.catalog.session() as s:
        chunk_of = {src: cid for cid, src in s.execute(select_chunks(Chunk, Document, col.id))}
    for q in users:
        cid = chunk_of[q["gold_pids"][0]]
        iid = rag.catalog.log_interaction(
            col,
            kind="ask",
            query=q["question"],
            retrieved_chunk_ids=[cid],
            retrieved_scores=[1.0],
            answer="",
            abstained=False,
            model_versions={},
            latency_ms=0.0,
        )
        rag.feedback(iid, rating=-1, correction=q["answers"][0])
    # Abstention: a question with the gold chunk of another question as its only passage.
    extra = []
    for i, q in enumerate(abst_q):
        other = corpus[users[i % len(users)]["gold_pids"][0]]["text"]
        if not any(a.lower() in other.lower() for a in q["answers"]):
            extra.append(abstention_example(q["question"], [other], q["answers"]))
    t0 = time.perf_counter()
    report_eval = GeneratorEvaluator([gold_item(q, corpus) for q in report_q], args.max_new_tokens)
    unans = [unanswerable_item(q, corpus, eval_q) for q in report_q[: args.abstain_eval]]
    base = report_eval.evaluate(gen, model_version="base")
    out["base"] = {"gold": base.summary(), "seconds": time.perf_counter() - t0}
    print("base gold-context", base.summary(), flush=True)
    _dump(out, args.out)
    heldout = [corpus[q["gold_pids"][0]]["text"] for q in eval_q[-args.heldout :]]
    report = one_cycle(
        rag,
        args,
        out,
        corpus,
        gate_q,
        report_q,
        heldout,
        extra,
        max_new_tokens=args.max_new_tokens,
    )
    ad = rag.adapters.generator(report.version, rag.registry.get(report.version).path)
    after = report_eval.evaluate(ad, model_version=report.version)
    out["adapter"] = {"gold": after.summary()}
    out["paired"] = {
        "gold_f1": paired(base, after, "answer_f1"),
        "gold_em": paired(base, after, "exact_match"),
    }
    print("paired", json.dumps(out["paired"], indent=1), flush=True)
    _dump(out, args.out)
    un_eval = GeneratorEvaluator(unans, args.max_new_tokens)
    out["abstention"] = {}
    for name, g in (("base", gen), ("adapter", ad)):
        r = un_eval.evaluate(g, model_version=name)
        out["abstention"][name] = {
            "abstain_when_unanswerable": r.mean("abstention_accuracy"),
            "n": len(unans),
            "abstain_when_answerable": 1.0
            - (base if name == "base" else after).mean("abstention_accuracy"),
        }
    print("abstention", out["abstention"], flush=True)
    _dump(out, args.out)
    out["verify"] = verification(rag, report_eval.items[: args.verify_n], ad, args.max_new_tokens)
    print("verify", out["verify"], flush=True)
    return out


def select_chunks(chunk: Any, document: Any, collection_id: int) -> Any:
    from sqlalchemy import select

    return (
        select(chunk.id, document.source)
        .join(document, document.id == chunk.document_id)
        .where(chunk.collection_id == collection_id)
    )


def unanswerable_item(q: dict[str, Any], corpus: dict[str, Any], pool: list[Any]) -> Any:
    """The question with a passage of another article that lacks its answer: abstain."""
    from rsi_rag.loop.generator_eval import QAItem

    for other in pool:
        text = corpus[other["gold_pids"][0]]["text"]
        if other["doc_id"] != q["doc_id"] and not any(
            a.lower() in text.lower() for a in q["answers"]
        ):
            return QAItem(f"u{q['id']}", q["question"], (text,), ())
    raise ValueError(f"no passage without the answer for question {q['id']}")


if __name__ == "__main__":
    main()
