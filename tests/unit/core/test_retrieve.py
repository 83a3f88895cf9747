from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rsi_rag import RAG, SourceDocument
from rsi_rag.errors import ValidationError
from rsi_rag.retrieve import reciprocal_rank_fusion

_COUNTER = itertools.count()
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma"]


def test_tenants_are_isolated(fake_rag: RAG) -> None:
    fake_rag.ingest_documents([SourceDocument("a", "secret plans of tenant one")], "c", tenant="t1")
    fake_rag.ingest_documents([SourceDocument("b", "public notes of tenant two")], "c", tenant="t2")
    hits = fake_rag.retrieve("secret plans tenant one", "c", k=10, tenant="t2")
    assert [h.source for h in hits] == ["b"]
    assert [c.name for c in fake_rag.collections(tenant="t1")] == ["c"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    acls=st.lists(
        st.lists(st.sampled_from(["hr", "eng", "exec"]), max_size=2), min_size=3, max_size=8
    ),
    principals=st.lists(st.sampled_from(["hr", "eng", "exec", "guest"]), max_size=2),
    mode=st.sampled_from(["dense", "bm25", "hybrid"]),
)
def test_acl_filtered_chunks_are_never_returned(
    fake_rag: RAG, acls: list[list[str]], principals: list[str], mode: str
) -> None:
    docs = [
        SourceDocument(f"doc{i}", f"report {WORDS[i % len(WORDS)]} quarterly numbers", acl=tuple(a))
        for i, a in enumerate(acls)
    ]
    collection = f"acl{next(_COUNTER)}"  # the fixture outlives one example: fresh collection
    fake_rag.ingest_documents(docs, collection)
    allowed = {d.source_id for d in docs if not d.acl or set(d.acl) & set(principals)}
    hits = fake_rag.retrieve(
        "quarterly report numbers", collection, k=20, principals=principals, mode=mode
    )
    assert {h.source for h in hits} <= allowed
    if mode != "bm25":
        assert {h.source for h in hits} == allowed
    unrestricted = fake_rag.retrieve("quarterly report numbers", collection, k=20)
    assert {h.source for h in unrestricted} == {d.source_id for d in docs}


def test_modes_and_validation(fake_rag: RAG) -> None:
    fake_rag.ingest_documents(
        [SourceDocument(f"s{i}", f"{w} topic text {i}") for i, w in enumerate(WORDS)], "c"
    )
    for mode in ("dense", "bm25", "hybrid"):
        hits = fake_rag.retrieve("gamma topic", "c", k=3, mode=mode)
        assert hits[0].source == "s2", mode
        assert len(hits) <= 3
    for bad in ({"k": 0}, {"k": 5000}, {"mode": "sparse"}, {"principals": "hr"}):
        with pytest.raises(ValidationError):
            fake_rag.retrieve("gamma", "c", **bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="non-empty"):
        fake_rag.retrieve("   ", "c")


def test_reciprocal_rank_fusion_orders_by_summed_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    scores = dict(fused)
    assert fused[0][0] == 1
    assert scores[1] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[4] == pytest.approx(1 / 63)
