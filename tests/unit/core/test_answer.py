from __future__ import annotations

import pytest

from rsi_rag import RAG, SourceDocument
from rsi_rag.errors import UnknownInteractionError, ValidationError
from rsi_rag.generate import ABSTAIN_TEXT, extract_citations, is_abstention
from rsi_rag.types import Hit


def _hit(i: int, text: str) -> Hit:
    return Hit(chunk_id=100 + i, document_id=i, source=f"s{i}", score=1.0, text=text)


def test_citation_markers_map_to_context_chunks() -> None:
    ctx = [_hit(1, "Paris is the capital of France."), _hit(2, "Berlin is in Germany.")]
    cites = extract_citations("Paris [1], and Berlin [2] [2] but not [7].", ctx)
    assert [(c.marker, c.chunk_id, c.inferred) for c in cites] == [(1, 101, False), (2, 102, False)]
    inferred = extract_citations("The capital of France is Paris.", ctx)
    assert [(c.chunk_id, c.inferred) for c in inferred] == [(101, True)]
    assert extract_citations("Something unrelated entirely.", ctx) == ()


def test_abstention_detection() -> None:
    assert is_abstention(ABSTAIN_TEXT)
    assert is_abstention("  not found in the documents")
    assert is_abstention("")
    assert not is_abstention("Paris is the capital [1].")


def test_ask_cites_logs_and_streams(fake_rag: RAG) -> None:
    fake_rag.ingest_documents(
        [
            SourceDocument("geo", "The Eiffel tower is 330 metres tall. It is in Paris."),
            SourceDocument("bio", "Octopuses have three hearts and blue blood."),
        ],
        "c",
    )
    stream = fake_rag.stream("How tall is the Eiffel tower?", "c")
    pieces = list(stream)
    assert len(pieces) > 1
    answer = stream.answer
    assert answer.text == "".join(pieces).strip()
    assert not answer.abstained
    assert [c.source for c in answer.citations] == ["geo"]
    assert answer.citations[0].chunk_id == answer.hits[0].chunk_id
    assert answer.model_versions["base_generator"] == "fake-generator-v1"
    logged = fake_rag.catalog.interaction(answer.interaction_id)  # type: ignore[arg-type]
    assert logged["cited_chunk_ids"] == [answer.citations[0].chunk_id]
    assert logged["model_versions"] == answer.model_versions

    fid = fake_rag.feedback(
        answer.interaction_id, rating=1, chosen_chunk_ids=[answer.hits[0].chunk_id]
    )  # type: ignore[arg-type]
    assert fid > 0
    with pytest.raises(ValidationError, match="were not retrieved"):
        fake_rag.feedback(answer.interaction_id, chosen_chunk_ids=[999_999])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="rating"):
        fake_rag.feedback(answer.interaction_id, rating=5)  # type: ignore[arg-type]
    with pytest.raises(UnknownInteractionError):
        fake_rag.feedback(424242, rating=1)


def test_ask_abstains_when_nothing_relevant(fake_rag: RAG) -> None:
    fake_rag.ingest_documents([SourceDocument("bio", "Octopuses have three hearts.")], "c")
    answer = fake_rag.ask("quantum chromodynamics lattice", "c")
    assert answer.abstained and answer.text == ABSTAIN_TEXT and answer.citations == ()
    assert answer.model_versions["base_generator"] == "not-run"
    assert fake_rag.catalog.interaction(answer.interaction_id)["abstained"] is True  # type: ignore[arg-type]
