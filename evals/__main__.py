"""``python -m evals``: the ``rsi-rag eval`` command on its own."""

from __future__ import annotations

import typer

from evals.cli import eval_command


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(eval_command)
    app()


if __name__ == "__main__":
    main()
