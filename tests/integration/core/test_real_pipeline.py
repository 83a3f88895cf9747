"""The core pipeline through the packaged MiniLM and SmolLM2 (loaded once per session)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rsi_rag import RAG
from rsi_rag.errors import ModelError, ModelNotFoundError

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[3] / "docs"
CORPUS = [str(p) for p in sorted(DOCS.glob("*.md"))]


@pytest.fixture(scope="module")
def real_rag(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: object, real_generator: object
) -> Iterator[RAG]:
    rag = RAG(
        tmp_path_factory.mktemp("real") / "data",
        embedder=real_embedder,  # type: ignore[arg-type]
        generator=real_generator,  # type: ignore[arg-type]
    )
    report = rag.ingest(CORPUS, "handbook")
    assert not report.failed and len(report.added) >= 5
    yield rag
    rag.close()


def test_dense_retrieval_finds_the_right_document(real_rag: RAG) -> None:
    cases = {
        "What happens when a document is deleted?": "deletion.md",
        "Which principals may read a chunk?": "access_control.md",
        "When is a challenger promoted over the champion?": "promotion.md",
    }
    for query, expected in cases.items():
        hits = real_rag.retrieve(query, "handbook", k=3)
        assert Path(hits[0].source).name == expected, (query, [h.source for h in hits])
        assert hits[0].score > 0.3
        hybrid = real_rag.retrieve(query, "handbook", k=3, mode="hybrid")
        assert Path(hybrid[0].source).name == expected


def test_ask_answers_with_citations_and_streams(real_rag: RAG) -> None:
    stream = real_rag.stream("What must a challenger beat before it is promoted?", "handbook")
    pieces = list(stream)
    answer = stream.answer
    assert len(pieces) > 3 and answer.text
    assert not answer.abstained
    assert answer.model_versions["base_generator"].startswith("smollm2-135m-instruct")
    for c in answer.citations:
        assert c.chunk_id in {h.chunk_id for h in answer.hits}
    logged = real_rag.catalog.interaction(answer.interaction_id)  # type: ignore[arg-type]
    assert logged["answer"] == answer.text


def test_out_of_domain_question_abstains(real_rag: RAG) -> None:
    answer = real_rag.ask("What is the boiling point of liquid nitrogen in kelvin?", "handbook")
    assert answer.abstained
    assert answer.text == "Not found in the documents."


def test_missing_or_broken_model_folders_are_clear(tmp_path: Path) -> None:
    from rsi_rag.embed import SentenceTransformerEmbedder
    from rsi_rag.generate import HFGenerator

    with pytest.raises(ModelNotFoundError, match="does not exist"):
        SentenceTransformerEmbedder(str(tmp_path / "nope")).encode(["x"])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="could not load embedder"):
        SentenceTransformerEmbedder(str(broken)).encode(["x"])
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        HFGenerator(str(tmp_path / "nope")).count_tokens("x")
    with pytest.raises(ModelError, match="could not load generator"):
        HFGenerator(str(broken)).count_tokens("x")


def test_cli_end_to_end(tmp_path: Path, real_embedder: object, real_generator: object) -> None:
    from rsi_rag.cli import app

    runner = CliRunner()
    data = str(tmp_path / "cli")
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf")
    res = runner.invoke(
        app,
        ["ingest", *CORPUS, str(tmp_path / "bad.pdf"), "-c", "h", "--data-dir", data, "--json"],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert len(report["added"]) >= 5 and report["failed"][0]["code"] == "corrupt_file"

    res = runner.invoke(
        app,
        [
            "retrieve",
            "how are deleted documents handled",
            "-c",
            "h",
            "-k",
            "2",
            "--data-dir",
            data,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    hits = json.loads(res.stdout)
    assert len(hits) == 2 and hits[0]["source"].endswith("deletion.md")

    res = runner.invoke(app, ["collections", "--data-dir", data, "--json"])
    assert json.loads(res.stdout)[0]["name"] == "h"

    res = runner.invoke(
        app,
        ["delete-document", "-c", "h", "--source", hits[0]["source"], "--data-dir", data, "--json"],
    )
    assert res.exit_code == 0 and json.loads(res.stdout)["chunks_removed"] >= 1
    res = runner.invoke(
        app,
        ["retrieve", "how are deleted documents handled", "-c", "h", "--data-dir", data, "--json"],
    )
    assert all(not h["source"].endswith("deletion.md") for h in json.loads(res.stdout))

    res = runner.invoke(app, ["retrieve", "x", "-c", "missing", "--data-dir", data, "--json"])
    assert res.exit_code == 2
    assert json.loads(res.stdout)["error"]["code"] == "unknown_collection"

    res = runner.invoke(
        app, ["ask", "How are models promoted?", "-c", "h", "--data-dir", data, "--json"]
    )
    assert res.exit_code == 0, res.output
    assert "model_versions" in json.loads(res.stdout)
