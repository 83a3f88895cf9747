"""The official ``openai`` package against the live service."""

from __future__ import annotations

import math

import pytest

from tests.integration.service.conftest import LiveServer

pytestmark = pytest.mark.integration

QUESTION = "What must a challenger model beat before it is promoted?"


@pytest.fixture(scope="module")
def oai(live_server: LiveServer):  # type: ignore[no-untyped-def]
    from openai import OpenAI

    client = OpenAI(
        base_url=live_server.url + "/v1",
        api_key=live_server.keys["acme"],
        max_retries=0,
        timeout=120,
    )
    yield client
    client.close()


def test_chat_completion_answers_with_citations(oai, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    resp = oai.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": QUESTION}]
    )
    text = resp.choices[0].message.content
    extra = resp.model_extra["rsi_rag"]
    assert resp.choices[0].finish_reason == "stop" and text
    assert not extra["abstained"], text
    # the extra field carries what the catalog recorded for this interaction
    inter = live_server.rag.catalog.interaction(extra["interaction_id"])
    assert inter["query"] == QUESTION
    assert [c["chunk_id"] for c in extra["citations"]] == inter["cited_chunk_ids"]
    assert [h["chunk_id"] for h in extra["hits"]] == inter["retrieved_chunk_ids"]
    assert extra["model_versions"]["retriever"] == live_server.rag.embedder.version
    # citations also travel in the text (the small packaged model does not always cite)
    assert ("Sources:" in text) == bool(extra["citations"])
    for c in extra["citations"]:
        assert f"[{c['marker']}] {c['source']}" in text
    # every hit is an acme demo document; globex's chunk is never retrieved for acme
    assert extra["hits"] and all(h["source"].endswith(".md") for h in extra["hits"])
    assert all("globex" not in h["source"] for h in extra["hits"])


def test_chat_completion_streams(oai) -> None:  # type: ignore[no-untyped-def]
    stream = oai.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    pieces, last = [], None
    for chunk in stream:
        last = chunk
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    assert len(pieces) > 3
    assert last is not None and last.choices[0].finish_reason == "stop"
    extra = last.model_extra["rsi_rag"]
    assert extra["interaction_id"] and not extra["abstained"]
    assert ("Sources:" in "".join(pieces)) == bool(extra["citations"])


def test_unrelated_question_abstains(oai) -> None:  # type: ignore[no-untyped-def]
    resp = oai.chat.completions.create(
        model="demo",
        messages=[{"role": "user", "content": "What is the boiling point of liquid nitrogen?"}],
    )
    assert resp.model_extra["rsi_rag"]["abstained"]
    assert resp.model_extra["rsi_rag"]["citations"] == []


def test_embeddings_float_and_base64(oai, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    texts = ["How are models promoted?", "Deleting a document"]
    b64 = oai.embeddings.create(model="demo", input=texts)  # the client asks for base64
    flt = oai.embeddings.create(model="demo", input=texts, encoding_format="float")
    assert len(b64.data) == len(flt.data) == 2
    expected = live_server.rag.embedder.encode(texts)
    for i in range(2):
        a, b = b64.data[i].embedding, flt.data[i].embedding
        assert len(a) == len(b) == 384
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-6
        assert max(abs(x - float(y)) for x, y in zip(a, expected[i], strict=True)) < 1e-5
        assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    assert b64.usage.prompt_tokens > 0


def test_models_list_and_errors(oai, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    import openai

    assert [m.id for m in oai.models.list()] == ["demo"]
    assert oai.models.retrieve("demo").owned_by == "acme"
    with pytest.raises(openai.NotFoundError) as err:
        oai.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert "unknown collection 'nope'" in str(err.value)
    bad = openai.OpenAI(base_url=live_server.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
