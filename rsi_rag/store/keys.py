"""API keys: created for a tenant with a role, stored only as a SHA-256 hash.

A key reads ``rsk_<prefix>_<secret>``. The prefix is stored in clear to find the row; the
whole key is hashed. Keys hold 256 random bits, so a fast hash is enough: there is nothing
to guess that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from rsi_rag.errors import AuthenticationError, NotFoundError, ValidationError
from rsi_rag.store.catalog import Catalog
from rsi_rag.store.models import ApiKey, Tenant

__all__ = ["ROLES", "ApiKeyInfo", "ApiKeyStore", "role_allows"]

# Each role includes the ones before it. ``root`` manages tenants and every tenant's keys.
ROLES = ("read", "write", "admin", "root")
_PREFIX = "rsk_"
_TENANT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` includes ``needed`` (``read`` < ``write`` < ``admin`` < ``root``)."""
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key without its secret."""

    id: int
    tenant: str
    tenant_id: int
    role: str
    prefix: str
    name: str | None
    revoked: bool
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyStore:
    """Create, verify, list and revoke API keys in the catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(self, tenant: str, role: str, name: str | None = None) -> tuple[ApiKeyInfo, str]:
        """Create a key; returns its record and the key itself (shown only this once).

        The tenant is created when missing.
        """
        if role not in ROLES:
            raise ValidationError(f"role must be one of {list(ROLES)}, got {role!r}")
        if not isinstance(tenant, str) or not _TENANT_NAME.fullmatch(tenant):
            raise ValidationError(
                f"tenant name {tenant!r} is invalid; use 1-128 letters, digits, '-', '_' or '.'"
            )
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            raise ValidationError("key name must be a string of at most 200 characters")
        tenant_id = self.catalog.tenant_id(tenant, create=True)
        prefix = secrets.token_hex(4)
        key = f"{_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        with self.catalog.session() as s:
            row = ApiKey(
                tenant_id=tenant_id, prefix=prefix, key_hash=_hash(key), role=role, name=name
            )
            s.add(row)
            s.flush()
            info = self._info(row, tenant)
        self.catalog.audit(
            "api_key.create",
            target=f"{_PREFIX}{prefix}",
            tenant_id=tenant_id,
            details={"role": role, "key_id": info.id},
        )
        return info, key

    def verify(self, key: str) -> ApiKeyInfo:
        """The record of a valid key; raises ``AuthenticationError`` otherwise."""
        bad = AuthenticationError(
            "the API key is unknown or revoked; send 'Authorization: Bearer <key>' with a key "
            "from 'rsi-rag keys create'"
        )
        if not isinstance(key, str) or not key.startswith(_PREFIX) or len(key) > 200:
            raise bad
        prefix = key[len(_PREFIX) :].split("_", 1)[0]
        digest = _hash(key)
        with self.catalog.session() as s:
            rows = s.execute(
                select(ApiKey, Tenant.name)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.prefix == prefix)
            ).all()
            for row, tname in rows:
                if hmac.compare_digest(row.key_hash, digest) and not row.revoked:
                    return self._info(row, tname)
        raise bad

    def list(self, tenant: str | None = None) -> list[ApiKeyInfo]:
        """Keys of one tenant (or of all tenants), oldest first."""
        with self.catalog.session() as s:
            q = (
                select(ApiKey, Tenant.name)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .order_by(ApiKey.id)
            )
            if tenant is not None:
                q = q.where(Tenant.name == tenant)
            return [self._info(r, t) for r, t in s.execute(q).all()]

    def revoke(self, key_id: int, tenant: str | None = None) -> ApiKeyInfo:
        """Revoke a key; with ``tenant``, keys of other tenants are reported unknown."""
        with self.catalog.session() as s:
            found = s.execute(
                select(ApiKey, Tenant.name)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.id == key_id)
            ).first()
            if found is None or (tenant is not None and found[1] != tenant):
                raise NotFoundError(f"unknown API key id {key_id}; list keys to find it")
            row, tname = found
            row.revoked = True
            info = self._info(row, tname)
        self.catalog.audit(
            "api_key.revoke",
            target=info.prefix,
            tenant_id=info.tenant_id,
            details={"key_id": key_id},
        )
        return info

    @staticmethod
    def _info(row: ApiKey, tenant: str) -> ApiKeyInfo:
        return ApiKeyInfo(
            id=int(row.id),
            tenant=tenant,
            tenant_id=int(row.tenant_id),
            role=row.role,
            prefix=f"{_PREFIX}{row.prefix}",
            name=row.name,
            revoked=bool(row.revoked),
            created_at=row.created_at.isoformat() if row.created_at else "",
        )
