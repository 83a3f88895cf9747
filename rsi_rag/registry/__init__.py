"""Model registry: versions, lineage, champion/challenger and rollback."""

from __future__ import annotations

from rsi_rag.registry.registry import KINDS, ModelRegistry, VersionInfo

__all__ = ["KINDS", "ModelRegistry", "VersionInfo"]
