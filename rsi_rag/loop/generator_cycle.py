"""One improvement cycle of a collection's generator adapter, and its promotion.

collect (user feedback) -> accumulate (with verified synthetic and abstention examples,
synthetic share capped) -> train a LoRA adapter -> evaluate champion and challenger on
the frozen gate set -> gate (answer F1 with guards) -> hot-swap the adapter or reject it.
Every decision is stored with the version in the registry. Promotion loads the adapter
*before* switching the champion, so a corrupt or foreign adapter is refused while the
old champion keeps serving; a rollback is the same switch to an earlier version.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsi_rag.config import check_reading
from rsi_rag.errors import ValidationError
from rsi_rag.loop.gate import Gate, GateDecision
from rsi_rag.loop.generator_data import (
    ExampleStore,
    GenExample,
    collect_user_examples,
    describe_examples,
    per_passage_examples,
    question_key,
)
from rsi_rag.loop.generator_eval import GeneratorEvaluator, QAItem, generator_guards
from rsi_rag.loop.train_generator import LoRATrainingConfig, train_adapter

__all__ = [
    "GeneratorCycleReport",
    "example_store",
    "promote_generator",
    "rollback_generator",
    "run_generator_cycle",
]

BASE = "base"


@dataclass(frozen=True)
class GeneratorCycleReport:
    """What one generator cycle did."""

    version: str
    promoted: bool
    decision: dict[str, Any]
    manifest: dict[str, Any]
    train: dict[str, Any]
    champion_summary: dict[str, float]
    challenger_summary: dict[str, float]
    guards: dict[str, float]
    reference_guards: dict[str, float]
    seconds: float = 0.0
    new_examples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def example_store(rag: Any, collection: str, frozen: Sequence[str] = ()) -> ExampleStore:
    """The accumulated generator examples of a collection, refusing ``frozen`` questions."""
    col = rag.collection(collection)
    path = Path(rag.data_dir) / "generator_data" / f"collection-{col.id}.jsonl"
    return ExampleStore(path, frozen={question_key(q) for q in frozen})


def promote_generator(
    rag: Any,
    collection: str,
    version: str,
    *,
    action: str = "generator.promote",
    tenant: str | None = None,
) -> None:
    """Make ``version`` (or ``"base"``) the collection's generator, without a restart.

    The adapter is loaded and validated first; only then is the champion switched, in one
    catalog update. Requests already running finish on the adapter they started with.
    """
    col = rag.collection(collection, tenant)
    old = col.generator_version
    if version != BASE:
        info = rag.registry.get(version)
        if info.kind != "generator":
            raise ValidationError(f"version {version!r} is a {info.kind}, not a generator adapter")
        if info.collection_id not in (None, col.id):
            raise ValidationError(
                f"adapter {version!r} was trained for collection id {info.collection_id}, "
                f"not {collection!r} (id {col.id})"
            )
        rag.adapters.load(version, info.path)
    rag.catalog.set_champion(col.id, "generator", version)
    if version != BASE:
        rag.registry.update(version, status="champion")
    if old != BASE and old != version and rag.registry.find(old) is not None:
        rag.registry.update(old, status="retired")
        if rag._adapters is not None:
            rag.adapters.unload(old)
    rag.catalog.audit(
        action,
        target=collection,
        tenant_id=col.tenant_id,
        details={"from": old, "to": version},
    )


def rollback_generator(
    rag: Any, collection: str, to: str | None = None, *, tenant: str | None = None
) -> str:
    """Switch back to ``to``, or to the champion's parent (``"base"`` when it has none)."""
    col = rag.collection(collection, tenant)
    if to is None:
        current = col.generator_version
        parent = rag.registry.get(current).parent_id if current != BASE else None
        to = parent or BASE
    promote_generator(rag, collection, to, action="generator.rollback", tenant=tenant)
    return to


def _champion_generator(rag: Any, version: str) -> Any:
    if version == BASE:
        return rag.generator
    return rag.adapters.generator(version, rag.registry.get(version).path)


def _evaluate(
    rag: Any, version: str, evaluator: GeneratorEvaluator, heldout: Sequence[str]
) -> tuple[Any, dict[str, float]]:
    result = evaluator.evaluate(_champion_generator(rag, version), model_version=version)
    outputs = [evaluator.outputs[q] for q in evaluator.query_ids]
    with rag.adapters.using(None if version == BASE else version) as model:
        guards = generator_guards(model, rag.generator.tokenizer, heldout, outputs)
    guards["groundedness"] = result.mean("groundedness")
    guards["abstention_accuracy"] = result.mean("abstention_accuracy")
    return result, guards


def run_generator_cycle(
    rag: Any,
    collection: str,
    *,
    gate_items: Sequence[QAItem],
    heldout_texts: Sequence[str],
    cycle: int,
    extra_examples: Sequence[GenExample] = (),
    train_config: LoRATrainingConfig | None = None,
    gate: Gate | None = None,
    max_synthetic_share: float = 0.3,
    frozen_questions: Sequence[str] = (),
    progress: bool = False,
    max_new_tokens: int = 48,
    reading: str | None = None,
    negative_rate: float = 0.0,
) -> GeneratorCycleReport:
    """Run one cycle; returns the report (the decision is also stored in the registry).

    Args:
        gate_items: Frozen gate set; its questions are refused as training data.
        heldout_texts: Real text never trained on (held-out perplexity guard).
        cycle: Cycle number recorded with the examples added now.
        extra_examples: Synthetic or abstention examples produced for this cycle.
        frozen_questions: Further questions of frozen sets (the report set).
        max_new_tokens: Generation budget per gate answer.
        reading: How the served generator reads its passages (``None``: the RAG config's
            ``reading``). ``"per_passage"`` trains on single-passage examples
            (:func:`per_passage_examples`) and gates with that reading.
        negative_rate: With per-passage reading, the share of answer examples that also
            give a passage lacking the answer as an abstention example.
    """
    started = time.perf_counter()
    col = rag.collection(collection)
    champion = col.generator_version
    store = example_store(rag, collection, [*(i.question for i in gate_items), *frozen_questions])
    new = store.add([*collect_user_examples(rag, collection), *extra_examples], cycle)
    examples, manifest = store.training_set(
        max_synthetic_share, rag.catalog.deleted_document_ids(col.id)
    )
    reading = check_reading(reading or rag.config.reading)
    manifest["reading"] = reading
    if reading == "per_passage":
        examples, manifest["per_passage"] = per_passage_examples(
            examples, negative_rate=negative_rate
        )
        manifest["per_passage"]["negative_rate"] = negative_rate
        manifest.update(describe_examples(examples))
    digest = hashlib.sha1("".join(manifest["example_ids"]).encode()).hexdigest()[:8]
    version = f"gen-{col.id}-c{cycle}-{digest}"
    out_dir = Path(rag.data_dir) / "adapters" / f"collection-{col.id}" / version
    result = train_adapter(
        examples,
        out_dir,
        train_config,
        base=rag.config.generator,
        progress=progress,
        manifest=manifest,
        device=rag.config.device,
        precision=rag.config.precision,
    )
    train = {
        "steps": result.steps,
        "examples": result.examples,
        "final_loss": result.losses[-1],
        "seconds_per_step": result.seconds_per_step,
        "peak_rss_mb": result.peak_rss_mb,
        "precision": result.precision,
    }
    if rag.registry.find(version) is None:
        rag.registry.register(
            version,
            "generator",
            result.adapter_path,
            collection_id=col.id,
            parent_id=None if champion == BASE else champion,
            config=result.config,
            data_manifest={k: v for k, v in manifest.items() if k != "example_ids"}
            | {"example_ids_sha1": digest, "cycle": cycle},
            metrics={"train": train},
        )
    rag.adapters.load(version, result.adapter_path)
    evaluator = GeneratorEvaluator(gate_items, max_new_tokens, reading)
    champ_res, ref_guards = _evaluate(rag, champion, evaluator, heldout_texts)
    chal_res, guards = _evaluate(rag, version, evaluator, heldout_texts)
    guards["synthetic_share"] = manifest["synthetic_share"]
    gate = gate or Gate()
    decision: GateDecision = gate.decide(
        "generator",
        champ_res,
        chal_res,
        challenger_guards=guards,
        reference_guards=ref_guards,
        champion_version=champion,
        challenger_version=version,
    )
    gate.record(rag.registry, version, decision)
    if decision.promote:
        promote_generator(rag, collection, version)
    else:
        rag.registry.update(version, status="rejected")
        rag.adapters.unload(version)
    return GeneratorCycleReport(
        version=version,
        promoted=decision.promote,
        decision=decision.to_dict(),
        manifest={k: v for k, v in manifest.items() if k != "example_ids"},
        train=train,
        champion_summary=champ_res.summary(),
        challenger_summary=chal_res.summary(),
        guards=guards,
        reference_guards=ref_guards,
        seconds=time.perf_counter() - started,
        new_examples=new,
    )
