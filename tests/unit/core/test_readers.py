from __future__ import annotations

from pathlib import Path

import pytest

from rsi_rag.errors import (
    ConflictError,
    CorruptFileError,
    EmptyFileError,
    FileTooLargeError,
    UnsupportedFileError,
)
from rsi_rag.ingest import read_file, register_reader
from tests.fixtures.files import make_docx, make_pdf


def test_each_supported_type_yields_its_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("plain text here")
    (tmp_path / "b.md").write_text("# Title\n\nmarkdown body")
    (tmp_path / "c.html").write_text(
        "<html><head><style>p{}</style></head><body><p>Visible words</p>"
        "<script>hidden()</script></body></html>"
    )
    make_pdf(tmp_path / "d.pdf", "Portable document words")
    make_docx(tmp_path / "e.docx", ["Word paragraph"], [["cell one", "cell two"]])
    limit = 10_000_000
    assert read_file(tmp_path / "a.txt", limit) == "plain text here"
    assert "markdown body" in read_file(tmp_path / "b.md", limit)
    html = read_file(tmp_path / "c.html", limit)
    assert "Visible words" in html and "hidden" not in html and "p{}" not in html
    assert "Portable document words" in read_file(tmp_path / "d.pdf", limit)
    docx_text = read_file(tmp_path / "e.docx", limit)
    assert "Word paragraph" in docx_text and "cell one | cell two" in docx_text


def test_bad_files_raise_errors_naming_the_file(tmp_path: Path) -> None:
    cases = {
        "x.bin": (b"\x00\x01", UnsupportedFileError),
        "empty.txt": (b"", EmptyFileError),
        "blank.md": (b"   \n\n", EmptyFileError),
        "latin.txt": ("caf\xe9".encode("latin-1"), CorruptFileError),
        "broken.pdf": (b"%PDF-1.4 this is not a pdf", CorruptFileError),
        "broken.docx": (b"PK not a zip", CorruptFileError),
    }
    for name, (data, exc) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(exc) as err:
            read_file(path, 1_000_000)
        assert name in str(err.value)
        assert err.value.source.endswith(name)
    big = tmp_path / "big.txt"
    big.write_text("x" * 2000)
    with pytest.raises(FileTooLargeError, match="2000 bytes, over the limit of 1000"):
        read_file(big, 1000)


def test_reader_registry_refuses_duplicates() -> None:
    with pytest.raises(ConflictError, match=r"\.txt"):
        register_reader((".txt",), lambda data, name: "")
