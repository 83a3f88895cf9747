from __future__ import annotations

from typing import Any

import pytest

from rsi_rag.types import SourceDocument

TOPICS = [
    "Payroll pays salaried staff on the last Friday of each month. Tax is withheld from "
    "the country tables. Payslips are sent by email to every employee.",
    "Badge access opens the office doors and logs every entry. Lost cards are disabled "
    "within five minutes. Visitors receive a temporary badge at the front desk.",
    "Expense reports need scanned receipts and a manager approval. Finance reimburses "
    "them within ten working days. Late reports are returned to the employee.",
    "Database backups run every night and are copied to another region. Snapshots are "
    "kept for thirty five days. Restores are tested every quarter by the operations team.",
    "Vacation requests are approved by the team lead in the calendar tool. The yearly "
    "leave balance is reduced automatically. Unused days expire at the end of March.",
    "Meeting rooms are booked in the workplace app. Rooms unused ten minutes after the "
    "start are released. Large rooms need a booking at least one day ahead.",
]


@pytest.fixture
def kb(fake_rag: Any) -> Any:
    """The fake RAG with a six-document collection ``kb``."""
    docs = [SourceDocument(f"doc{i}.md", text) for i, text in enumerate(TOPICS)]
    fake_rag.ingest_documents(docs, "kb")
    return fake_rag


def chunk_ids_by_source(rag: Any, collection: str = "kb") -> dict[str, int]:
    col = rag.collection(collection)
    out = {}
    for cid, rec in rag.catalog.chunks(col.id, rag.catalog.chunk_ids(col.id)).items():
        out.setdefault(rec.source, cid)
    return out
