"""Model registry: versions, lineage, champion/challenger and rollback."""

from __future__ import annotations

from rsi_rag.registry.registry import KINDS, STATUSES, ModelRegistry, VersionInfo

__all__ = ["KINDS", "STATUSES", "ModelRegistry", "VersionInfo"]
