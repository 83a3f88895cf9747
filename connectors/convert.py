"""Fetched content to text: the core readers, plus CSV and JSON that sources often hold."""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePosixPath
from typing import Any

from rsi_rag.errors import CorruptFileError, EmptyFileError, FileTooLargeError
from rsi_rag.ingest.readers import read_bytes

__all__ = ["decode_utf8", "to_text"]


def decode_utf8(data: bytes, name: str) -> str:
    """Decode UTF-8 (a BOM is dropped); invalid bytes raise ``CorruptFileError``."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(
            f"{name} is not valid UTF-8 (byte {exc.start}); convert it to UTF-8 at the source",
            source=name,
        ) from exc


def _csv_text(data: bytes, name: str) -> str:
    text = decode_utf8(data, name)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise CorruptFileError(f"{name} is not valid CSV ({exc})", source=name) from exc
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return ", ".join(header)
    # One line per row, each value labelled by its column, so a chunk keeps its meaning.
    return "\n".join(
        "; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v.strip())
        for row in body
    )


def _flatten(value: Any, prefix: str, out: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
    elif value is not None and str(value).strip():
        out.append(f"{prefix}: {value}" if prefix else str(value))


def _json_text(data: bytes, name: str) -> str:
    try:
        value = json.loads(decode_utf8(data, name))
    except json.JSONDecodeError as exc:
        raise CorruptFileError(
            f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            source=name,
        ) from exc
    out: list[str] = []
    _flatten(value, "", out)
    return "\n".join(out)


def to_text(content: bytes | str, name: str, max_bytes: int) -> str:
    """Extract text from an item's content; ``name``'s ending picks the format.

    Raises:
        IngestError: a subclass naming the item (too large, corrupt, empty, unsupported).
    """
    size = len(content.encode("utf-8")) if isinstance(content, str) else len(content)
    if size > max_bytes:
        raise FileTooLargeError(
            f"{name} is {size} bytes, over the limit of {max_bytes}; split it at the source "
            "or raise max_file_bytes",
            source=name,
        )
    if isinstance(content, str):
        text = content
    else:
        suffix = PurePosixPath(name).suffix.lower()
        if suffix == ".csv":
            text = _csv_text(content, name)
        elif suffix == ".json":
            text = _json_text(content, name)
        else:
            text = read_bytes(content, name)
    if not text.strip():
        raise EmptyFileError(f"{name} holds no text; nothing to ingest", source=name)
    return text
