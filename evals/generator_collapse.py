"""Collapse demonstration: an adapter retrained on its own outputs, two regimes side by side.

* replace: each cycle continues the previous adapter on the previous model's *unverified*
  answers only, discarding the data of earlier cycles.
* accumulate (this project's regime): each cycle continues the previous adapter on every
  real example so far plus the previous model's answers that pass the source-chunk check,
  the synthetic share capped.

Every cycle's challenger is evaluated on the same frozen gate set, its collapse guards are
measured against the base model's, and the project's gate decides.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def collapse_demo(
    corpus: dict[str, Any], train_q: list[Any], eval_q: list[Any], args: argparse.Namespace
) -> dict[str, Any]:
    from evals.bench_generator_loop import gold_item
    from rsi_rag.generate import HFGenerator
    from rsi_rag.generate.adapters import AdapterManager
    from rsi_rag.loop.gate import Gate
    from rsi_rag.loop.generator_data import ExampleStore, GenExample, synthetic_examples
    from rsi_rag.loop.generator_eval import GeneratorEvaluator, generator_guards
    from rsi_rag.loop.train_generator import LoRATrainingConfig, train_adapter

    n, work = args.train_questions, Path(args.work_dir)
    real_q, synth_q = train_q[:n], train_q[n : 2 * n]
    gate_items = [gold_item(q, corpus) for q in eval_q[-args.gate :]]
    heldout = [corpus[q["gold_pids"][0]]["text"] for q in eval_q[: args.gate]]
    sources = [(q["question"], corpus[q["gold_pids"][0]]["text"], 0, 0) for q in synth_q]
    real = [
        GenExample(
            q["question"],
            (corpus[q["gold_pids"][0]]["text"],),
            q["answers"][0],
            "user_correction",
            source=f"q{q['id']}",
        )
        for q in real_q
    ]
    base = HFGenerator(device="cpu")
    mgr = AdapterManager.shared(base)
    tok = base.tokenizer
    evaluator = GeneratorEvaluator(gate_items, max_new_tokens=getattr(args, "max_new_tokens", 24))
    cfg = LoRATrainingConfig(
        rank=args.rank,
        alpha=2 * args.rank,
        learning_rate=args.lr,
        max_steps=args.steps,
        batch_size=args.batch,
        grad_accum=args.accum,
        max_length=512,
        save_every=0,
        **recipe_extras(args),
    )
    gate = Gate()

    def measure(version: str | None, gen: Any) -> tuple[Any, dict[str, float]]:
        res = evaluator.evaluate(gen, model_version=version or "base")
        outputs = [evaluator.outputs[q] for q in evaluator.query_ids]
        with mgr.using(version) as model:
            guards = generator_guards(model, tok, heldout, outputs)
        guards["groundedness"] = res.mean("groundedness")
        guards["abstention_accuracy"] = res.mean("abstention_accuracy")
        return res, guards

    base_res, base_guards = measure(None, base)
    print("base", base_res.summary(), base_guards, flush=True)
    out: dict[str, Any] = {
        "base": {"summary": base_res.summary(), "guards": base_guards},
        "regimes": {},
    }
    for regime in ("replace", "accumulate"):
        prev_path: str | None = None
        prev_gen: Any = base
        store = ExampleStore(
            work / regime / "examples.jsonl", frozen=[it.question for it in gate_items]
        )
        rows = []
        for cycle in range(1, args.cycles + 1):
            verify = regime == "accumulate"
            synth, rejected = synthetic_examples(
                prev_gen, sources, verify=verify, max_new_tokens=evaluator.max_new_tokens
            )
            if regime == "replace":
                data, share = synth, 1.0
            else:
                store.add([*real, *synth], cycle)
                data, manifest = store.training_set(max_synthetic_share=0.3)
                share = manifest["synthetic_share"]
            if not data:
                rows.append({"cycle": cycle, "skipped": "no training data"})
                continue
            result = train_adapter(
                data, work / regime / f"cycle-{cycle}", cfg, init_adapter=prev_path, progress=False
            )
            version = f"{regime}-c{cycle}"
            mgr.load(version, result.adapter_path)
            gen = mgr.generator(version)
            res, guards = measure(version, gen)
            guards["synthetic_share"] = share
            decision = gate.decide(
                "generator",
                base_res,
                res,
                challenger_guards=guards,
                reference_guards=base_guards,
                champion_version="base",
                challenger_version=version,
            )
            row = {
                "cycle": cycle,
                "examples": len(data),
                "synthetic_rejected": rejected,
                "answer_f1": res.mean("answer_f1"),
                "guards": guards,
                "promote": decision.promote,
                "reasons": list(decision.reasons),
                "ci": [decision.ci_low, decision.ci_high],
                "seconds_per_step": result.seconds_per_step,
                "train_peak_rss_mb": result.peak_rss_mb,
                "sample_outputs": [evaluator.outputs[q] for q in evaluator.query_ids[:3]],
            }
            rows.append(row)
            print(regime, {k: v for k, v in row.items() if k != "sample_outputs"}, flush=True)
            if prev_path is not None:
                mgr.unload(f"{regime}-c{cycle - 1}")
            prev_path, prev_gen = result.adapter_path, gen
        out["regimes"][regime] = rows
        mgr.unload(f"{regime}-c{args.cycles}")
    out["plot"] = plot(out, work / "collapse_guards.png")
    return out


def recipe_extras(args: argparse.Namespace) -> dict[str, Any]:
    """LoRA on every linear layer of the top blocks, as the COVID-QA loop trains, if asked."""
    from evals.bench_generator_loop import ALL_LINEAR

    if args.top_layers is None:
        return {}
    return {"target_modules": ALL_LINEAR, "top_layers": args.top_layers}


def plot(result: dict[str, Any], path: Path) -> str:
    """Guards per cycle for both regimes, the base model's value at cycle 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [
        "answer_f1",
        "heldout_perplexity",
        "distinct_2",
        "self_bleu",
        "groundedness",
        "synthetic_share",
    ]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    base = {
        **result["base"]["guards"],
        "answer_f1": result["base"]["summary"]["answer_f1"],
        "synthetic_share": 0.0,
    }
    for ax, name in zip(axes.flat, names, strict=True):
        for regime, rows in result["regimes"].items():
            rows = [r for r in rows if "guards" in r]
            xs = [0] + [r["cycle"] for r in rows]
            ys = [base.get(name, 0.0)] + [
                r["answer_f1"] if name == "answer_f1" else r["guards"][name] for r in rows
            ]
            marks = [""] + ["promote" if r["promote"] else "reject" for r in rows]
            ax.plot(xs, ys, marker="o", label=regime)
            for x, y, m in zip(xs, ys, marks, strict=True):
                if m:
                    ax.annotate("P" if m == "promote" else "R", (x, y), fontsize=8)
        ax.set_title(name)
        ax.set_xlabel("cycle")
    axes.flat[0].legend()
    fig.suptitle("Generator guards per cycle (R: gate rejected, P: promoted)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return str(path)
