"""Fixtures for the connector integration tests: real servers on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.testing import (
    PostgresServer,
    S3Server,
    ServerUnavailable,
    postgres_server,
    s3_server,
)
from tests.contract.connector_harnesses import ENV


@pytest.fixture(autouse=True)
def _secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def s3() -> S3Server:
    try:
        return s3_server()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def pg() -> PostgresServer:
    try:
        return postgres_server()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose text pypdf extracts (Helvetica, one text line)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def write_docx(path: Path, text: str) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    d.save(str(path))
