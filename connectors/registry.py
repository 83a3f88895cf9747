"""The explicit registry of connector types; a duplicate name is refused."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from connectors.base import Connector, ConnectorOptions
from rsi_rag.errors import ConfigError, ConflictError, ValidationError

__all__ = [
    "connector_class",
    "connector_types",
    "create_connector",
    "parse_options",
    "read_secret",
    "register_connector",
    "unregister_connector",
]

_TYPES: dict[str, type[Connector]] = {}
_LOCK = threading.Lock()


def register_connector(cls: type[Connector]) -> type[Connector]:
    """Register a connector class under its ``type_name`` (usable as a decorator).

    Raises:
        ConflictError: another class is registered under the same name.
        ValidationError: the class has no ``type_name`` or is not a :class:`Connector`.
    """
    if not (isinstance(cls, type) and issubclass(cls, Connector)) or not cls.type_name:
        raise ValidationError(
            f"{cls!r} is not a Connector subclass with a type_name; subclass "
            "connectors.Connector and set type_name"
        )
    with _LOCK:
        if cls.type_name in _TYPES:
            raise ConflictError(
                f"a connector type named {cls.type_name!r} is already registered "
                f"({_TYPES[cls.type_name].__qualname__}); pick another type_name"
            )
        _TYPES[cls.type_name] = cls
    return cls


def unregister_connector(type_name: str) -> None:
    """Remove a registered type (tests use it to clean up)."""
    with _LOCK:
        _TYPES.pop(type_name, None)


def connector_types() -> list[str]:
    """Names of the registered connector types, sorted."""
    with _LOCK:
        return sorted(_TYPES)


def connector_class(type_name: str) -> type[Connector]:
    """The class registered under ``type_name``."""
    with _LOCK:
        cls = _TYPES.get(type_name)
    if cls is None:
        raise ConfigError(
            f"unknown connector type {type_name!r}; choose one of: {', '.join(connector_types())}"
        )
    return cls


def parse_options(type_name: str, options: Mapping[str, Any]) -> ConnectorOptions:
    """Validate options for a connector type; every problem is named in one error.

    Comma-separated strings are accepted for list options (``acl=alice,bob``), so the
    command line's ``--option key=value`` pairs validate like JSON values.
    """
    cls = connector_class(type_name)
    fields = cls.Options.model_fields
    values: dict[str, Any] = {}
    for key, value in options.items():
        info = fields.get(key)
        ann = str(info.annotation) if info is not None else ""
        if isinstance(value, str) and ("tuple" in ann or "list" in ann):
            value = tuple(v.strip() for v in value.split(",") if v.strip())
        values[key] = value
    try:
        return cls.Options.model_validate(values)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(options)'}: {e['msg']}" for e in exc.errors()
        )
        known = ", ".join(sorted(fields))
        raise ConfigError(
            f"invalid options for connector type {type_name!r}: {problems}. Known options: {known}"
        ) from None


def create_connector(
    type_name: str, options: Mapping[str, Any] | ConnectorOptions, work_dir: Path | None = None
) -> Connector:
    """Build a connector from its type name and (raw or validated) options."""
    cls = connector_class(type_name)
    opts = options if isinstance(options, ConnectorOptions) else parse_options(type_name, options)
    return cls(opts, work_dir)


def read_secret(env_name: str | None, what: str) -> str | None:
    """The secret held by environment variable ``env_name`` (``None`` when not configured).

    Raises:
        ConfigError: the variable is named but not set; the message names the variable,
            never a value.
    """
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value is None:
        raise ConfigError(
            f"{what} is read from environment variable {env_name!r}, which is not set; "
            f"export {env_name}=... before syncing"
        )
    return value
