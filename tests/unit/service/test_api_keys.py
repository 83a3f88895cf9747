from __future__ import annotations

from typing import Any

import pytest

from rsi_rag.errors import AuthenticationError, NotFoundError, ValidationError
from rsi_rag.store.keys import ApiKeyStore, role_allows
from rsi_rag.store.models import ApiKey


def test_keys_are_hashed_verified_and_revoked(fake_rag: Any) -> None:
    store = ApiKeyStore(fake_rag.catalog)
    info, key = store.create("acme", "write", name="ci")
    assert key.startswith(info.prefix + "_")
    with fake_rag.catalog.session() as s:
        stored = s.get(ApiKey, info.id)
        assert stored is not None and key not in stored.key_hash and len(stored.key_hash) == 64
    assert store.verify(key).tenant == "acme"
    assert store.verify(key).role == "write"
    with pytest.raises(AuthenticationError):
        store.verify(key[:-1] + ("A" if key[-1] != "A" else "B"))
    with pytest.raises(AuthenticationError):
        store.verify("not-a-key")
    with pytest.raises(NotFoundError):
        store.revoke(info.id, tenant="globex")  # another tenant's admin cannot see it
    store.revoke(info.id, tenant="acme")
    with pytest.raises(AuthenticationError, match="revoked"):
        store.verify(key)
    assert [k.revoked for k in store.list("acme")] == [True]


def test_bad_role_and_tenant_are_refused(fake_rag: Any) -> None:
    store = ApiKeyStore(fake_rag.catalog)
    with pytest.raises(ValidationError, match="role must be one of"):
        store.create("acme", "superuser")
    with pytest.raises(ValidationError, match="tenant name"):
        store.create("bad tenant!", "read")


def test_role_order() -> None:
    assert role_allows("admin", "write") and role_allows("write", "read")
    assert not role_allows("read", "write") and not role_allows("admin", "root")
