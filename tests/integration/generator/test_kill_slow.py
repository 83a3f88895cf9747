"""Kill -9 during adapter training: no adapter appears half-written, the run resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SCRIPT = """
import sys
from tests.integration.generator.conftest import planet_examples
from rsi_rag.loop.train_generator import LoRATrainingConfig, train_adapter
cfg = LoRATrainingConfig(max_steps=50, batch_size=2, grad_accum=1, max_length=160, save_every=1)
train_adapter(planet_examples(4), sys.argv[1], cfg, progress=False)
"""


def test_kill_during_training_leaves_champion_files_intact_and_resumes(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=root,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    deadline = time.time() + 600
    while not (tmp_path / "checkpoint" / "state.json").exists():
        assert proc.poll() is None and time.time() < deadline, "training never checkpointed"
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "adapter").exists()
    from rsi_rag.loop.train_generator import LoRATrainingConfig, train_adapter

    from .conftest import planet_examples

    cfg = LoRATrainingConfig(max_steps=3, batch_size=2, grad_accum=1, max_length=160, save_every=1)
    done = train_adapter(planet_examples(4), tmp_path, cfg, progress=False)
    assert done.resumed_from_step >= 1
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
