"""The ``rsi-rag`` command line (typer + rich).

Other distributions' packages add command groups through the entry-point group
``rsi_rag.cli``: each entry is a function ``register(app: typer.Typer) -> None``. This keeps
``rsi_rag`` free of imports from ``service``, ``connectors`` and ``evals``.
"""

from __future__ import annotations

from rsi_rag.cli.app import app, main

__all__ = ["app", "main"]
