"""Tenants and API keys. ``admin`` keys manage their own tenant; ``root`` keys all tenants."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, post

from rsi_rag.errors import ConflictError, PermissionDeniedError
from service.schemas import KeyCreate, PathId, TenantCreate
from service.state import Principal, ServiceState

__all__ = ["AdminController"]


class AdminController(Controller):
    path = "/v1"
    tags = ("admin",)

    @get("/tenants", sync_to_thread=True)
    def list_tenants(self, principal: Principal, service: ServiceState) -> dict[str, Any]:
        """Every tenant for a root key; the key's own tenant for an admin key."""
        principal.require("admin")
        if principal.key.role == "root":
            return {"tenants": service.rag.catalog.tenants()}
        return {"tenants": [principal.tenant]}

    @post("/tenants", sync_to_thread=True, status_code=201)
    def create_tenant(
        self, data: TenantCreate, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Create a tenant (root keys only)."""
        principal.require("root")
        if data.name in service.rag.catalog.tenants():
            raise ConflictError(f"tenant {data.name!r} already exists")
        service.rag.catalog.tenant_id(data.name, create=True)
        service.rag.catalog.audit(
            "tenant.create", target=data.name, actor=principal.actor, details={}
        )
        return {"name": data.name}

    @get("/keys", sync_to_thread=True)
    def list_keys(self, principal: Principal, service: ServiceState) -> dict[str, Any]:
        """Keys of the caller's tenant (never their secrets)."""
        principal.require("admin")
        return {"keys": [k.to_dict() for k in service.keys.list(principal.tenant)]}

    @post("/keys", sync_to_thread=True, status_code=201)
    def create_key(
        self, data: KeyCreate, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Create a key; the response is the only time the key is shown."""
        principal.require("admin")
        tenant = data.tenant or principal.tenant
        if principal.key.role != "root":
            if tenant != principal.tenant:
                raise PermissionDeniedError(
                    f"an admin key of tenant {principal.tenant!r} cannot create keys for "
                    f"tenant {tenant!r}; use a root key"
                )
            if data.role == "root":
                raise PermissionDeniedError("only a root key can create root keys")
        elif tenant not in service.rag.catalog.tenants():
            from rsi_rag.errors import UnknownTenantError

            raise UnknownTenantError(
                f"unknown tenant {tenant!r}; create it first (POST /v1/tenants)"
            )
        info, key = service.keys.create(tenant, data.role, data.name)
        return {**info.to_dict(), "key": key}

    @delete("/keys/{key_id:int}", sync_to_thread=True, status_code=200)
    def revoke_key(
        self, key_id: PathId, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Revoke a key of the caller's tenant (any tenant for a root key)."""
        principal.require("admin")
        scope = None if principal.key.role == "root" else principal.tenant
        return service.keys.revoke(key_id, scope).to_dict()
