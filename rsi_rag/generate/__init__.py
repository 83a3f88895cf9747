"""Answer generation: the base model (plus adapters), prompts, citations, abstention."""

from __future__ import annotations

from rsi_rag.generate.base import Generator, Message
from rsi_rag.generate.citations import extract_citations, is_abstention, support
from rsi_rag.generate.hf import HFGenerator
from rsi_rag.generate.prompts import ABSTAIN_TEXT, SYSTEM_PROMPT, build_messages, select_context

__all__ = [
    "ABSTAIN_TEXT",
    "SYSTEM_PROMPT",
    "Generator",
    "HFGenerator",
    "Message",
    "build_messages",
    "extract_citations",
    "is_abstention",
    "select_context",
    "support",
]
