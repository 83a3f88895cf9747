"""Adapters that plug rsi_rag into other frameworks (import each module on its own)."""
