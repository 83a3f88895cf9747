"""One retriever improvement cycle, end to end and unattended.

collect -> synthesize -> train -> build the challenger's index beside the champion's ->
evaluate both on the gate set -> gate -> switch or reject. The cycle holds the
collection's lock throughout, starts by repairing whatever a killed cycle left, and
records every decision (including "not enough data") in the registry or the audit log.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rsi_rag.errors import ModelError, NotEnoughDataError
from rsi_rag.evaluation.frozen import assert_trainable
from rsi_rag.evaluation.guards import synthetic_share
from rsi_rag.loop.collect import collect_feedback
from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.examples import (
    Example,
    count_examples,
    exclude_deleted,
    gate_examples,
    refuse_frozen,
    training_examples,
)
from rsi_rag.loop.gate import Gate, GatePolicy
from rsi_rag.loop.lock import CycleLock
from rsi_rag.loop.promote import build_index, model_dir, recover, switch
from rsi_rag.loop.retrieval_eval import embedding_guards, evaluate_version
from rsi_rag.loop.synthesize import CLOZE_METHODS, cloze_positive, synthesize
from rsi_rag.loop.train_retriever import TrainPair, train_retriever

if TYPE_CHECKING:
    from rsi_rag.rag import RAG
    from rsi_rag.store.catalog import CollectionRef

__all__ = ["CycleResult", "StageHook", "run_cycle", "run_improvement", "training_config"]

#: Called as ``hook(stage, info)`` when a stage starts (and per training step).
StageHook = Callable[[str, dict[str, Any]], None]


@dataclass
class CycleResult:
    """What one cycle did: the decision, its reasons and numbers, and stage timings."""

    collection: str
    cycle: int
    decision: str
    champion_before: str
    champion_after: str
    challenger: str | None = None
    reasons: list[str] = field(default_factory=list)
    gate: dict[str, Any] | None = None
    examples: dict[str, int] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    synthesis: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pairs(
    rag: RAG, col: CollectionRef, examples: list[Example], config: LoopConfig
) -> list[TrainPair]:
    wanted = {c for e in examples for c in (*e.positive_chunk_ids, *e.negative_chunk_ids)}
    texts = rag.catalog.chunk_texts(col.id, sorted(wanted))
    out = []
    for e in examples:
        negs = [texts[c] for c in e.negative_chunk_ids if c in texts]
        for i, c in enumerate(p for p in e.positive_chunk_ids if p in texts):
            positive = texts[c]
            if e.provenance == "synthetic" and e.method in CLOZE_METHODS:
                positive = cloze_positive(e.query, positive, config.cloze_keep_fraction)
            out.append(TrainPair(e.query, positive, negs[i % len(negs)] if negs else None))
    return out


def training_config(config: LoopConfig, train: list[Example]) -> LoopConfig:
    """The settings a training set is trained with: ``config``, with its epochs capped by
    ``synthetic_only_max_epochs`` when no example is user- or gold-grounded."""
    cap = config.synthetic_only_max_epochs
    if cap and all(e.provenance == "synthetic" for e in train) and config.epochs > cap:
        return dataclasses.replace(config, epochs=cap)
    return config


def _base_path(rag: RAG, version: str) -> str:
    path = getattr(rag.embedder_for(version), "name_or_path", None)
    if not path:
        raise ModelError(
            f"retriever {version!r} is not a sentence-transformers model, so it cannot be "
            "fine-tuned; configure a sentence-transformers embedder"
        )
    return str(path)


def run_cycle(
    rag: RAG,
    collection: str,
    *,
    tenant: str | None = None,
    config: LoopConfig | None = None,
    policy: GatePolicy | None = None,
    use_generator: bool = True,
    on_stage: StageHook | None = None,
) -> CycleResult:
    """Run one improvement cycle for ``collection``.

    Args:
        rag: The RAG facade (its champion generator writes synthetic questions).
        collection: Collection name.
        tenant: Tenant (the RAG's default when omitted).
        config: Loop settings; ``data_dir/loop.json`` or the defaults when omitted.
        policy: Gate policy; the default policy when omitted.
        use_generator: Let the generator write questions (otherwise crops and titles only).
        on_stage: Progress hook, see :data:`StageHook`.

    Returns:
        The decision: ``promote``, ``reject`` or ``not_enough_data``.

    Raises:
        ConflictError: a cycle or rollback of this collection is already running.
    """
    config = config or LoopConfig.for_data_dir(rag.data_dir)
    col = rag.collection(collection, tenant)
    hook = on_stage or (lambda stage, info: None)
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}

    def stage(name: str, **info: Any) -> None:
        started[name] = time.perf_counter()
        hook(name, info)

    def done(name: str) -> None:
        seconds[name] = round(time.perf_counter() - started[name], 2)

    with CycleLock(rag.data_dir, col.id, collection):
        recover(rag, col)
        col = rag.catalog.collection_by_id(col.id)
        champion = col.retriever_version
        own = [v for v in rag.registry.list(col.id, "retriever") if v.collection_id == col.id]
        number = len(own) + 1
        result = CycleResult(collection, number, "not_enough_data", champion, champion)
        result.seconds = seconds  # filled in as stages finish

        stage("collect")
        exclude_deleted(rag.catalog, col.id)
        rag.registry.mark_trained_on_deleted(col.id, rag.catalog.deleted_document_ids(col.id))
        collect_feedback(rag.catalog, col, config, number)
        done("collect")
        stage("synthesize")
        result.synthesis = synthesize(
            rag, col, config, cycle=number, use_generator=use_generator
        ).to_dict()
        done("synthesize")
        train = training_examples(rag.catalog, col.id, config)
        gate_set, gate_kind = gate_examples(rag.catalog, col.id)
        result.examples = count_examples(rag.catalog, col.id)
        try:
            if len(train) < config.min_train_examples:
                raise NotEnoughDataError(
                    f"{len(train)} training examples, fewer than min_train_examples="
                    f"{config.min_train_examples}; ingest more documents or collect feedback"
                )
            if len(gate_set) < config.min_gate_examples:
                raise NotEnoughDataError(
                    f"{len(gate_set)} gate examples, fewer than min_gate_examples="
                    f"{config.min_gate_examples}; collect feedback or import a gold set"
                )
        except NotEnoughDataError as exc:
            result.reasons = [exc.message]
            rag.catalog.audit(
                "retriever.cycle",
                target=f"{col.tenant}/{col.name}",
                tenant_id=col.tenant_id,
                details=result.to_dict(),
            )
            return result
        refuse_frozen(train)
        # Also refuses a registered evaluation query that came back through the logs.
        assert_trainable(train, catalog=rag.catalog, collection_id=col.id)
        return _train_and_gate(
            rag, col, config, policy, train, gate_set, gate_kind, result, stage, done, hook
        )


def _train_and_gate(
    rag: RAG,
    col: CollectionRef,
    config: LoopConfig,
    policy: GatePolicy | None,
    train: list[Example],
    gate_set: list[Example],
    gate_kind: str,
    result: CycleResult,
    stage: Callable[..., None],
    done: Callable[[str], None],
    hook: StageHook,
) -> CycleResult:
    champion = result.champion_before
    config = training_config(config, train)
    version = f"{col.name}-r{result.cycle}-{uuid.uuid4().hex[:6]}"
    out = model_dir(rag, col.id, version)
    real = [e for e in train if e.provenance != "synthetic"]
    share = synthetic_share(train)
    manifest: dict[str, Any] = {
        "examples": len(train),
        "by_provenance": {p: sum(e.provenance == p for e in train) for p in ("user", "synthetic")},
        "by_method": {m: sum(e.method == m for e in train) for m in {e.method for e in train}},
        "example_ids": [e.id for e in train],
        "document_ids": sorted({d for e in train for d in e.document_ids}),
        "gate_set": {"kind": gate_kind, "examples": len(gate_set)},
        "synthetic_share": share,
    }
    base = _base_path(rag, champion)
    rag.registry.register(
        version,
        "retriever",
        str(out),
        collection_id=col.id,
        parent_id=champion,
        status="training",
        config={"loop": config.to_dict(), "base": base},
        data_manifest=manifest,
    )
    result.challenger = version
    stage("train", version=version, examples=len(train))
    pairs = _pairs(rag, col, train, config)
    corpus = list(rag.catalog.chunk_texts(col.id).values())
    if config.mining_corpus_size and len(corpus) > config.mining_corpus_size:
        corpus = random.Random(config.seed).sample(corpus, config.mining_corpus_size)
    trained = train_retriever(
        base,
        pairs,
        corpus,
        out,
        config,
        device=rag.config.device,
        precision=rag.config.precision,
        on_step=lambda step, total: hook("train.step", {"step": step, "total": total}),
    )
    done("train")
    result.training = asdict(trained)
    rag.registry.update(
        version,
        status="candidate",
        metrics={
            "train_loss": trained.loss,
            "train_steps": trained.steps,
            "train_epochs": config.epochs,
            "train_pairs": trained.pairs,
        },
    )
    from rsi_rag.embed.sentence_transformer import SentenceTransformerEmbedder

    rag.register_embedder(
        SentenceTransformerEmbedder(str(out), rag.config.device, version, rag.config.precision)
    )
    stage("index", version=version)
    build_index(rag, col, version)
    done("index")
    stage("evaluate")
    champ_res = evaluate_version(rag, col, champion, gate_set)
    chal_res = evaluate_version(rag, col, version, gate_set)
    champ_guards = embedding_guards(rag, col, champion, seed=config.seed)
    chal_guards = embedding_guards(rag, col, version, seed=config.seed)
    if real:
        # The cap on synthetic data applies when real data exists; a label-free
        # collection is synthetic by construction.
        chal_guards["synthetic_share"] = share
    done("evaluate")
    stage("gate")
    gate = Gate(policy)
    decision = gate.decide(
        "retriever",
        champ_res,
        chal_res,
        challenger_guards=chal_guards,
        reference_guards=champ_guards,
        champion_version=champion,
        challenger_version=version,
    )
    info = gate.record(rag.registry, version, decision)
    rag.registry.update(
        version,
        metrics={
            **info.metrics,
            "gate_champion": champ_res.summary(),
            "gate_challenger": chal_res.summary(),
            "guards": chal_guards,
            "champion_guards": champ_guards,
        },
    )
    done("gate")
    result.gate = decision.to_dict()
    result.reasons = list(decision.reasons)
    if decision.promote:
        stage("switch", version=version)
        switch(rag, col, version, on_stage=hook)
        done("switch")
        result.decision, result.champion_after = "promote", version
    else:
        rag.registry.update(version, status="rejected")
        # The model folder stays (a rejected version may still be rolled back to); its
        # index is rebuilt on demand.
        rag.indexes.drop(col.id, version)
        result.decision = "reject"
    rag.catalog.audit(
        "retriever.cycle",
        target=f"{col.tenant}/{col.name}",
        tenant_id=col.tenant_id,
        details={k: v for k, v in result.to_dict().items() if k != "gate"},
    )
    return result


def run_improvement(
    rag: RAG,
    collection: str,
    cycles: int = 1,
    *,
    tenant: str | None = None,
    config: LoopConfig | None = None,
    policy: GatePolicy | None = None,
    use_generator: bool = True,
    on_stage: StageHook | None = None,
) -> list[CycleResult]:
    """Run ``cycles`` consecutive cycles; stops early on a not-enough-data decision."""
    if not isinstance(cycles, int) or cycles < 1:
        from rsi_rag.errors import ValidationError

        raise ValidationError(f"cycles must be a positive integer, got {cycles!r}")
    results = []
    for _ in range(cycles):
        res = run_cycle(
            rag,
            collection,
            tenant=tenant,
            config=config,
            policy=policy,
            use_generator=use_generator,
            on_stage=on_stage,
        )
        results.append(res)
        if res.decision == "not_enough_data":
            break
    return results
