"""Run a cycle (or a switch) in this process and SIGKILL it at a named stage.

Usage: ``python crash_proc.py DATA_DIR cycle STAGE`` or
``python crash_proc.py DATA_DIR switch STAGE VERSION``.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


def main() -> None:
    from rsi_rag.embed import SentenceTransformerEmbedder
    from rsi_rag.loop.cycle import run_cycle
    from rsi_rag.loop.promote import switch
    from tests.integration.loop.conftest import TINY, open_rag

    data_dir, mode, stage = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    rag = open_rag(data_dir, SentenceTransformerEmbedder(device="cpu"))

    def hook(name: str, info: dict[str, Any]) -> None:
        if name == stage:
            print(f"killing at {name}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    if mode == "cycle":
        run_cycle(rag, "kb", config=TINY, on_stage=hook)
    else:
        from rsi_rag.embed import SentenceTransformerEmbedder as ST

        version = sys.argv[4]
        rag.register_embedder(ST(rag.registry.get(version).path, "cpu", version))
        switch(rag, rag.collection("kb"), version, on_stage=hook)
    print("finished without being killed", flush=True)


if __name__ == "__main__":
    main()
