"""File readers: one function per file type, in an explicit registry."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from rsi_rag.errors import (
    ConflictError,
    CorruptFileError,
    EmptyFileError,
    FileTooLargeError,
    UnsupportedFileError,
)

__all__ = ["read_bytes", "read_file", "register_reader", "registered_suffixes"]

Reader = Callable[[bytes, str], str]
_READERS: dict[str, Reader] = {}


def register_reader(suffixes: tuple[str, ...], reader: Reader) -> None:
    """Register ``reader(data, name) -> text`` for file endings; duplicates are refused."""
    for suffix in suffixes:
        key = suffix.lower()
        if key in _READERS:
            raise ConflictError(f"a reader for {key!r} is already registered")
        _READERS[key] = reader


def registered_suffixes() -> tuple[str, ...]:
    return tuple(sorted(_READERS))


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(
            f"{name} is not valid UTF-8 (byte {exc.start}); convert it to UTF-8 and ingest "
            "it again",
            source=name,
        ) from exc


def _read_text(data: bytes, name: str) -> str:
    return _decode(data, name)


def _read_html(data: bytes, name: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data, name), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _read_pdf(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise CorruptFileError(
            f"{name} is not a readable PDF ({type(exc).__name__}: {exc}); re-export it",
            source=name,
        ) from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise EmptyFileError(
            f"{name} has no extractable text (a scanned PDF?); run OCR on it first",
            source=name,
        )
    return text


def _read_docx(data: bytes, name: str) -> str:
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CorruptFileError(
            f"{name} is not a readable .docx file ({type(exc).__name__}: {exc}); re-save it "
            "from Word or LibreOffice",
            source=name,
        ) from exc
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                parts.append(" | ".join(cells))
    return "\n".join(parts)


register_reader((".txt", ".md", ".markdown", ".rst"), _read_text)
register_reader((".html", ".htm"), _read_html)
register_reader((".pdf",), _read_pdf)
register_reader((".docx",), _read_docx)


def read_bytes(data: bytes, name: str) -> str:
    """Extract text from file content; ``name`` gives the type by its ending."""
    suffix = Path(name).suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise UnsupportedFileError(
            f"{name}: file type {suffix or '(none)'!r} is not supported; supported types: "
            f"{', '.join(registered_suffixes())}",
            source=name,
        )
    text = reader(data, name)
    if not text.strip():
        raise EmptyFileError(f"{name} holds no text; nothing to ingest", source=name)
    return text


def read_file(path: Path, max_bytes: int) -> str:
    """Read one file, enforcing the size limit before reading it."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLargeError(
            f"{path} is {size} bytes, over the limit of {max_bytes}; split it or raise "
            "max_file_bytes",
            source=str(path),
        )
    if size == 0:
        raise EmptyFileError(f"{path} is empty; nothing to ingest", source=str(path))
    return read_bytes(path.read_bytes(), str(path))
