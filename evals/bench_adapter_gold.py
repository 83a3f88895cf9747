"""How far the adapter trainer moves answer F1 on COVID-QA with gold context, given steps.

The generator side of the loop in isolation, with no catalog or retriever, so that it also
runs where only torch, transformers and peft are installed (a GPU machine): train-side
articles give user corrections (question, gold passage, gold answer) plus abstention
examples; the base model and the trained adapter answer the same report questions of the
eval-side articles with their gold passage; the paired bootstrap interval of the F1
difference and the gate's decision on a disjoint gate set are printed.

Usage::

    python -m evals.bench_adapter_gold --steps 300 --device cuda --out runs/gen/adapter_gold.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

from evals.bench_generator_loop import DATA, gold_item, load, lora_config, split


def examples(train_q: list[Any], corpus: dict[str, Any], abstain: int, seed: int) -> list[Any]:
    """User corrections for ``train_q`` and up to ``abstain`` abstention examples."""
    from rsi_rag.loop.generator_data import GenExample, abstention_example

    out = [
        GenExample(
            question=q["question"],
            contexts=(corpus[q["gold_pids"][0]]["text"],),
            answer=q["answers"][0],
            provenance="user_correction",
            source=f"covidqa:{q['id']}",
        )
        for q in train_q
    ]
    rng = random.Random(seed)
    for q in rng.sample(train_q, min(abstain, len(train_q))):
        other = corpus[rng.choice(train_q)["gold_pids"][0]]["text"]
        if not any(a.lower() in other.lower() for a in q["answers"]):
            out.append(abstention_example(q["question"], [other], q["answers"]))
    return out


def main(argv: list[str] | None = None) -> int:
    from rsi_rag.generate.adapters import AdapterManager
    from rsi_rag.generate.hf import HFGenerator
    from rsi_rag.loop.gate import Gate, GatePolicy, paired_bootstrap_ci
    from rsi_rag.loop.generator_eval import GeneratorEvaluator
    from rsi_rag.loop.train_generator import train_adapter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--base", default=None, help="generator folder (default: packaged SmolLM2)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: a visible GPU)")
    ap.add_argument("--precision", default="auto", help="training arithmetic: auto, fp32 or bf16")
    ap.add_argument("--train", type=int, default=0, help="train questions (0: all train-side)")
    ap.add_argument("--abstain", type=int, default=100, help="abstention examples")
    ap.add_argument(
        "--sample", type=int, default=100, help="report questions (0: measure training only)"
    )
    ap.add_argument("--gate", type=int, default=100, help="gate questions")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--accum", type=int, default=2)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument(
        "--top-layers", type=int, default=None, help="LoRA in the last N blocks only (default: all)"
    )
    ap.add_argument(
        "--no-checkpointing",
        action="store_true",
        help="keep activations instead of recomputing them (faster, more memory)",
    )
    ap.add_argument(
        "--no-heap-trim",
        action="store_true",
        help="leave freed memory to the allocator between steps (glibc keeps it resident)",
    )
    ap.add_argument("--max-length", type=int, default=768)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--work", type=Path, default=Path("runs/gen/adapter_gold"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    corpus, questions = load(args.data)
    train_q, eval_q, _ = split(questions)
    rng = random.Random(0)
    rng.shuffle(train_q)
    rng.shuffle(eval_q)
    report_q, gate_q = eval_q[: args.sample], eval_q[args.sample : args.sample + args.gate]
    train_q = train_q[: args.train] if args.train else train_q
    data = examples(train_q, corpus, args.abstain, seed=0)
    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    out["sizes"] = {"train_examples": len(data), "report": len(report_q), "gate": len(gate_q)}
    print(json.dumps(out["sizes"]), flush=True)

    cfg = lora_config(
        args.lr,
        args.steps,
        args.batch,
        args.accum,
        args.max_length,
        rank=args.rank,
        save_every=0,
        top_layers=args.top_layers,
        gradient_checkpointing=not args.no_checkpointing,
        trim_heap=not args.no_heap_trim,
    )
    started = time.perf_counter()
    result = train_adapter(
        data,
        args.work,
        cfg,
        base=args.base,
        device=args.device,
        precision=args.precision,
        progress=False,
        resume=False,
    )
    out["train"] = {
        "steps": result.steps,
        "examples": result.examples,
        "seconds": round(time.perf_counter() - started, 1),
        "seconds_per_step": round(result.seconds_per_step, 3),
        "first_losses": [round(x, 3) for x in result.losses[:3]],
        "last_losses": [round(x, 3) for x in result.losses[-3:]],
        "device": result.device,
        "precision": result.precision,
        "peak_gpu_mb": round(result.peak_gpu_mb),
        "peak_rss_mb": round(result.peak_rss_mb),
    }
    print("train", json.dumps(out["train"]), flush=True)
    if not args.sample:  # training cost only (e.g. fp32 against bf16 s/step)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(out, indent=2, default=str))
        return 0

    base = HFGenerator(args.base, device=args.device)
    adapted = AdapterManager(base).generator("adapter", result.adapter_path)
    report = GeneratorEvaluator([gold_item(q, corpus) for q in report_q], args.max_new_tokens)
    gate_set = GeneratorEvaluator([gold_item(q, corpus) for q in gate_q], args.max_new_tokens)
    res: dict[str, Any] = {}
    for name, gen in (("base", base), ("adapter", adapted)):
        res[name] = {"report": report.evaluate(gen, model_version=name)}
        out[f"{name}_answers"] = {k: report.outputs[k] for k in report.query_ids[:8]}
        res[name]["gate"] = gate_set.evaluate(gen, model_version=name)
        out[name] = res[name]["report"].summary()
        print(name, json.dumps(out[name]), flush=True)
    for metric in ("answer_f1", "exact_match"):
        a, b = res["base"]["report"].scores(metric), res["adapter"]["report"].scores(metric)
        diffs = [b[k] - a[k] for k in a]
        low, high, _ = paired_bootstrap_ci(diffs, seed=0)
        out[f"paired_{metric}"] = {"diff": sum(diffs) / len(diffs), "ci": [low, high]}
    decision = Gate(GatePolicy(min_improvement=0.01)).decide(
        "generator", res["base"]["gate"], res["adapter"]["gate"]
    )
    out["gate"] = {
        "promote": decision.promote,
        "ci": [decision.ci_low, decision.ci_high],
        "reasons": list(decision.reasons),
    }
    print("paired F1", json.dumps(out["paired_answer_f1"]), flush=True)
    print("gate", json.dumps(out["gate"]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
