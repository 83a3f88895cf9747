"""Run a suite, or evaluate a collection on a user's folder, and collect the results."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from evals.datasets import BeirDataset, QADataset, load_dataset
from evals.suites import DatasetSpec, get_suite
from evals.systems import gold_context_answerer, ingest_corpus, llama_index_search
from rsi_rag.errors import UnknownCollectionError, ValidationError
from rsi_rag.evaluation import (
    AnswerEvaluator,
    EvaluationResult,
    QAExample,
    RetrievalEvaluator,
    RetrievalSet,
    rag_answerer,
    rag_search,
    split_by_document,
)

__all__ = [
    "QA_SPLIT",
    "evaluate_folder",
    "merge_results",
    "qa_splits",
    "run_standalone",
    "run_suite",
    "summary_rows",
]

#: The by-document split of ``qa`` sets: training side, gate set, report set.
QA_SPLIT = {"train": 0.6, "gate": 0.2, "report": 0.2}


def qa_splits(ds: QADataset, seed: int = 0) -> dict[str, list[QAExample]]:
    """Questions split by source document (``doc_id``) into train, gate and report."""
    return split_by_document(ds.questions, QA_SPLIT, seed=seed, document=lambda e: e.doc_id or e.id)


def _freeze(
    rag: Any, collection: str, name: str, examples: list[Any], role: str, src: str, fmt: str
) -> None:
    from rsi_rag.evaluation.frozen import FrozenSets

    col = rag.collection(collection)
    FrozenSets(rag.catalog).register(
        col.id, name, examples, role=role, format=fmt, source=src, exist_ok=True
    )


def _retrieval(
    rag: Any, collection: str, rset: RetrievalSet, systems: tuple[str, ...], corpus: Any, log: Any
) -> dict[str, EvaluationResult]:
    ev = RetrievalEvaluator(rset.queries, rset.qrels)
    out: dict[str, EvaluationResult] = {}
    col = rag.collection(collection)
    for system in systems:
        if system in ("bm25", "dense", "hybrid"):
            fn = rag_search(rag, collection, mode=system)
            version = "bm25" if system == "bm25" else col.retriever_version
        elif system == "llamaindex":
            fn = llama_index_search(corpus, rag.embedder.name_or_path)
            version = "llama-index+" + rag.embedder.version
        else:
            continue
        out[system] = ev.evaluate(fn, model_version=version)
        log(f"  {system}: {out[system].summary()}")
    return out


def _answers(
    rag: Any,
    collection: str,
    examples: list[QAExample],
    corpus: Any,
    systems: tuple[str, ...],
    log: Any,
) -> dict[str, EvaluationResult]:
    ev = AnswerEvaluator(examples)
    out: dict[str, EvaluationResult] = {}
    if "generator_gold" in systems:
        out["generator_gold"] = ev.evaluate(
            gold_context_answerer(rag.generator, corpus), model_version=rag.generator.version
        )
        log(f"  generator_gold: {out['generator_gold'].summary()}")
    if "generator_retrieved" in systems:
        out["generator_retrieved"] = ev.evaluate(
            rag_answerer(rag, collection, mode="dense"), model_version=rag.generator.version
        )
        log(f"  generator_retrieved: {out['generator_retrieved'].summary()}")
    return out


def _report_sets(
    spec: DatasetSpec, limit: int | None
) -> tuple[BeirDataset | QADataset, RetrievalSet, list[QAExample], dict[str, list[QAExample]]]:
    """The dataset, its report retrieval set, the answer sample and (``qa``) the splits."""
    ds = load_dataset(spec.path, spec.format)
    if isinstance(ds, BeirDataset):
        rset = ds.retrieval_set(spec.split)
        splits: dict[str, list[QAExample]] = {}
        sample: list[QAExample] = []
    else:
        splits = qa_splits(ds)
        chosen = splits[spec.split]
        rset = ds.retrieval_set(chosen, f"{ds.name}/{spec.split}")
        answerable = sorted((e for e in chosen if e.answerable), key=lambda e: e.id)
        n = min(limit or spec.answer_sample, spec.answer_sample, len(answerable))
        sample = random.Random(0).sample(answerable, n) if n else []
    if limit:
        rset = rset.subset(sorted(rset.queries)[:limit])
    return ds, rset, sample, splits


def run_standalone(
    suite: str,
    dataset: str,
    system: str,
    *,
    limit: int | None = None,
    answer_sample: int | None = None,
    data_dir: Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Score one system that needs no collection (``llamaindex``, ``generator_gold``).

    Such systems build their own index or take gold context, so they can run in a process
    of their own beside the suite; :func:`merge_results` adds the result to a suite's JSON.
    ``generator_retrieved`` answers through the collection a suite ingested in ``data_dir``.
    """
    specs = {d.name: d for d in get_suite(suite).datasets}
    if dataset not in specs:
        raise ValidationError(f"suite {suite!r} has no dataset {dataset!r}; it has {sorted(specs)}")
    spec = specs[dataset]
    if answer_sample is not None:
        spec = replace(spec, answer_sample=answer_sample)
    ds, rset, sample, _ = _report_sets(spec, limit)
    if system == "generator_retrieved":
        from rsi_rag.rag import RAG

        if data_dir is None:
            raise ValidationError("generator_retrieved needs data_dir, where the suite ingested")
        with RAG(data_dir) as rag:
            res = AnswerEvaluator(sample).evaluate(
                rag_answerer(rag, f"eval-{dataset}", mode="dense"),
                model_version=rag.generator.version,
            )
    elif system == "llamaindex":
        from rsi_rag._packaged import packaged_embedder_path

        path = str(packaged_embedder_path())
        res = RetrievalEvaluator(rset.queries, rset.qrels).evaluate(
            llama_index_search(ds.corpus, path), model_version="llama-index+" + Path(path).name
        )
    elif system == "generator_gold":
        from rsi_rag.generate.hf import HFGenerator

        gen = HFGenerator(device="cpu")
        res = AnswerEvaluator(sample).evaluate(
            gold_context_answerer(gen, ds.corpus), model_version=gen.version
        )
    else:
        raise ValidationError(f"system {system!r} needs a collection; run it with run_suite")
    log(f"  {system}: {res.summary()}")
    return {"dataset": dataset, "system": system, "result": res.to_dict()}


def merge_results(results: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Add a :func:`run_standalone` output to suite results (in place; returned)."""
    entry = results["datasets"].setdefault(extra["dataset"], {"systems": {}})
    entry["systems"][extra["system"]] = extra["result"]
    return results


def _dataset(
    rag: Any, spec: DatasetSpec, log: Any, limit: int | None, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    ds, rset, sample, splits = _report_sets(spec, limit)
    collection = f"eval-{spec.name}"
    log(f"{spec.name}: {len(ds.corpus)} passages -> collection {collection}")
    ingest_corpus(rag, collection, ds.corpus)
    systems = tuple(s for s in spec.systems if s not in skip)
    entry: dict[str, Any] = {"format": spec.format, "path": str(spec.path), "split": spec.split}
    if isinstance(ds, BeirDataset):
        frozen = [{"id": q, "query": t} for q, t in rset.queries.items()]
        _freeze(rag, collection, rset.name, frozen, "report", str(spec.path), "beir")
    else:
        for role in ("gate", "report"):
            _freeze(rag, collection, f"{ds.name}/{role}", splits[role], role, str(spec.path), "qa")
        entry["answer_sample"] = len(sample)
        entry["split_sizes"] = {k: len(v) for k, v in splits.items()}
    results = _retrieval(rag, collection, rset, systems, ds.corpus, log)
    if sample and any(s.startswith("generator") for s in systems):
        results.update(_answers(rag, collection, sample, ds.corpus, systems, log))
    entry["n_queries"] = len(rset)
    entry["systems"] = {k: v.to_dict() for k, v in results.items()}
    return entry


def run_suite(
    name: str,
    data_dir: Path,
    *,
    limit: int | None = None,
    log: Any = print,
    skip: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run every dataset of suite ``name`` against a RAG in ``data_dir``.

    Returns:
        The JSON-ready results: per dataset and system, the summary and per-query scores;
        plus the registry's model versions (metrics and gate decisions) for the report.
    """
    from rsi_rag.rag import RAG

    suite = get_suite(name)
    out: dict[str, Any] = {
        "suite": name,
        "description": suite.description,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "datasets": {},
    }
    with RAG(data_dir) as rag:
        for spec in suite.datasets:
            if not spec.path.is_dir():
                raise ValidationError(
                    f"suite {name!r} needs {spec.path}, which does not exist; set "
                    "RSI_RAG_EVAL_DATA to the folder holding the datasets"
                )
            out["datasets"][spec.name] = _dataset(rag, spec, log, limit, skip)
        out["versions"] = [v.to_dict() for v in rag.registry.list()]
    return out


def evaluate_folder(
    rag: Any,
    folder: Path,
    fmt: str,
    collection: str,
    *,
    answers: bool = False,
    limit: int | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Evaluate a collection's champion on a user's folder (ingesting the corpus if needed).

    The folder's queries are registered as a frozen report set of the collection.
    """
    ds = load_dataset(folder, fmt)
    try:
        rag.collection(collection)
        exists = True
    except UnknownCollectionError:
        exists = False
    if not exists:
        log(f"collection {collection!r} does not exist: ingesting {len(ds.corpus)} passages")
        ingest_corpus(rag, collection, ds.corpus)
    if isinstance(ds, BeirDataset):
        split = "test" if "test" in ds.qrels else sorted(ds.qrels)[0]
        rset = ds.retrieval_set(split)
        frozen: list[Any] = [{"id": q, "query": t} for q, t in rset.queries.items()]
        examples: list[QAExample] = []
    else:
        rset = ds.retrieval_set()
        frozen = examples = list(ds.questions)
    if limit:
        rset = rset.subset(sorted(rset.queries)[:limit])
        examples = examples[:limit]
    _freeze(
        rag, collection, f"{ds.name}:{folder.resolve()}"[:200], frozen, "report", str(folder), fmt
    )
    col = rag.collection(collection)
    ev = RetrievalEvaluator(rset.queries, rset.qrels)
    results = {
        "retrieval": ev.evaluate(
            rag_search(rag, collection, mode=rag.config.retrieval_mode),
            model_version=col.retriever_version,
        )
    }
    if answers and examples:
        results["answers"] = AnswerEvaluator(examples).evaluate(
            rag_answerer(rag, collection), model_version=col.generator_version
        )
    return {
        "suite": f"dataset:{folder}",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "datasets": {
            ds.name: {
                "format": fmt,
                "path": str(folder),
                "collection": collection,
                "n_queries": len(rset),
                "systems": {k: v.to_dict() for k, v in results.items()},
            }
        },
        "versions": [v.to_dict() for v in rag.registry.list(collection_id=col.id)],
    }


COLUMNS = (
    "ndcg@10",
    "recall@10",
    "recall@100",
    "mrr@10",
    "answer_f1",
    "exact_match",
    "citation_precision",
    "groundedness",
    "abstention_accuracy",
    "latency_p50_ms",
)


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per dataset and system with the headline figures."""
    rows = []
    for ds, entry in results["datasets"].items():
        for system, res in entry["systems"].items():
            summ = res["summary"]
            rows.append(
                {
                    "dataset": ds,
                    "system": system,
                    "n": int(summ.get("n_queries", 0)),
                    **{c: summ.get(c) for c in COLUMNS},
                }
            )
    return rows
