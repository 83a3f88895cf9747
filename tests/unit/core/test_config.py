from __future__ import annotations

from pathlib import Path

import pytest

from rsi_rag import RAGConfig
from rsi_rag.errors import ConfigError


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 100, "chunk_overlap": 100}, "chunk_overlap"),
        ({"top_k": -1}, "top_k"),
        ({"retrieval_mode": "sparse"}, "retrieval_mode"),
        ({"abstain_threshold": 3.0}, "abstain_threshold"),
        ({"device": "tpu"}, "device"),
        ({"max_file_bytes": True}, "max_file_bytes"),
    ],
)
def test_invalid_values_are_refused_with_the_value(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        RAGConfig(**kwargs)
    assert fragment in str(err.value)


def test_round_trip_with_version(tmp_path: Path) -> None:
    cfg = RAGConfig(chunk_size=128, chunk_overlap=16, retrieval_mode="hybrid")
    path = tmp_path / "c.json"
    cfg.save(path)
    assert '"rsi_rag_version"' in path.read_text()
    assert RAGConfig.load(path) == cfg


def test_unknown_keys_and_bad_json_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown config keys"):
        RAGConfig.from_dict({"chunk_sise": 3})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        RAGConfig.load(bad)
