"""The examples in docs/examples run against the live service."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.service.conftest import DOCS, LiveServer

pytestmark = pytest.mark.integration

EXPECTED = {
    "sdk_quickstart.py": ["collections: ['demo']", "hit ", "answer:", "feedback id:"],
    "openai_client.py": ["answer:", "interaction:", "embedding dims: 384", "models: ['demo']"],
    "llama_index_app.py": ["llama-index sources: [", ".md", "rsi_rag answer:", "feedback id:"],
    "async_sdk.py": ["How are models promoted? -> [", "interaction:"],
}


def test_every_example_is_checked() -> None:
    assert sorted(p.name for p in (DOCS / "examples").glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(live_server: LiveServer, name: str) -> None:
    env = {
        **os.environ,
        "RSI_RAG_URL": live_server.url,
        "RSI_RAG_API_KEY": live_server.keys["acme"],
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.run(
        [sys.executable, str(DOCS / "examples" / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for marker in EXPECTED[name]:
        assert marker in proc.stdout, (marker, proc.stdout)
