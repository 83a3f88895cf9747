"""Fakes shipped with the library for fast tests of code built on rsi_rag."""

from __future__ import annotations

from rsi_rag.testing.fakes import FakeEmbedder, FakeGenerator

__all__ = ["FakeEmbedder", "FakeGenerator"]
