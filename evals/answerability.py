"""How well can this system tell that its passages lack the answer? Signals, measured.

Usage::

    python -m evals.answerability --data-dir runs/gen/covid-retriever --sample 100

For each of ``--sample`` COVID-QA report questions (eval-side articles) two contexts are
built from the champion retriever's top 10, as in the abstention benchmark: *answerable*,
the top 3 when they hold the gold passage, and *unanswerable*, the first 3 passages that are
neither the gold passage nor contain a gold answer. Each signal scores every context (higher:
more likely answerable) and is summarised by its ROC AUC and by the share of answerable
contexts it would abstain on at the threshold that abstains on 80% of the unanswerable ones,
the abstention target. Signals:

- ``passage_cosine``: the best cosine between the question and a passage (the champion
  embedder; the score ``abstain_threshold`` acts on);
- ``sentence_cosine``: the best cosine between the question and one sentence of a passage;
- ``<model>_abstain_logprob``: minus the mean log-probability the generator gives the
  abstention answer after the serving prompt, for the base model and the collection's
  promoted adapter (the generator's own belief that it should abstain).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench_generator_loop import abstention_contexts, load, open_rag, split

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def auc(answerable: np.ndarray, unanswerable: np.ndarray) -> float:
    """ROC AUC of a score separating answerable (positive) from unanswerable contexts."""
    from scipy.stats import mannwhitneyu

    u = mannwhitneyu(answerable, unanswerable, alternative="two-sided").statistic
    return float(u) / (len(answerable) * len(unanswerable))


def abstain_on_answerable(answerable: np.ndarray, unanswerable: np.ndarray, target: float) -> float:
    """Share of answerable contexts below the threshold that abstains on ``target`` of the
    unanswerable ones."""
    threshold = float(np.quantile(unanswerable, target))
    return float(np.mean(answerable < threshold))


def cosines(embedder: Any, question: str, hits: list[Any]) -> tuple[float, float]:
    """Best question-passage and best question-sentence cosine."""
    q = embedder.encode_query(question)
    texts = [h.text for h in hits]
    sentences = [s for t in texts for s in _SENTENCE.split(t) if len(s.split()) >= 4] or texts
    return float(np.max(embedder.encode(texts) @ q)), float(np.max(embedder.encode(sentences) @ q))


def abstain_logprob(model: Any, tokenizer: Any, question: str, hits: list[Any]) -> float:
    """Mean log-probability of the abstention answer's tokens after the serving prompt."""
    import torch

    from rsi_rag.generate.prompts import ABSTAIN_TEXT, build_messages
    from rsi_rag.loop.train_generator import _ids

    msgs = build_messages(question, hits)
    prompt = _ids(tokenizer, msgs, True)
    full = _ids(tokenizer, [*msgs, {"role": "assistant", "content": ABSTAIN_TEXT}], False)
    ids = torch.tensor([full])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float()
    target = ids[0, len(prompt) :]
    return float(torch.log_softmax(logits, -1).gather(1, target[:, None]).mean())


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    corpus, questions = load()
    _, eval_q, _ = split(questions)
    random.Random(0).shuffle(eval_q)
    rag = open_rag(Path(args.data_dir), corpus, args.retrieval_mode, ingest=False)
    col = rag.collection("covid")
    embedder = rag.embedder_for(col.retriever_version)
    models: dict[str, str | None] = {"base": None}
    if col.generator_version not in ("base", ""):
        rag.adapters.load(col.generator_version, rag.registry.get(col.generator_version).path)
        models["adapter"] = col.generator_version
    labels: list[int] = []
    scores: dict[str, list[float]] = {"passage_cosine": [], "sentence_cosine": []}
    scores.update({f"{m}_abstain_logprob": [] for m in models})
    tokenizer = rag.generator.tokenizer
    for q in eval_q[: args.sample]:
        for label, hits in abstention_contexts(rag, q):
            labels.append(label)
            passage, sentence = cosines(embedder, q["question"], hits)
            scores["passage_cosine"].append(passage)
            scores["sentence_cosine"].append(sentence)
            for name, version in models.items():
                with rag.adapters.using(version) as model:
                    lp = abstain_logprob(model, tokenizer, q["question"], hits)
                scores[f"{name}_abstain_logprob"].append(-lp)
    y = np.array(labels)
    out: dict[str, Any] = {
        "args": vars(args),
        "retriever": col.retriever_version,
        "generator": col.generator_version,
        "answerable": int(y.sum()),
        "unanswerable": int(len(y) - y.sum()),
        "signals": {},
    }
    for name, values in scores.items():
        x = np.array(values)
        out["signals"][name] = {
            "auc": auc(x[y == 1], x[y == 0]),
            "abstain_on_answerable_at_80pct": abstain_on_answerable(x[y == 1], x[y == 0], 0.8),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default="runs/gen/covid-retriever", help="a covid run's data")
    p.add_argument("--sample", type=int, default=100)
    p.add_argument("--retrieval-mode", choices=("dense", "hybrid"), default="hybrid")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/gen/answerability.json")
    args = p.parse_args()
    started = time.perf_counter()
    out = measure(args)
    out["wall_seconds"] = time.perf_counter() - started
    print(json.dumps({k: out[k] for k in ("answerable", "unanswerable", "signals")}, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
