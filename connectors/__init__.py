"""Enterprise connectors: keep collections in step with file shares, object stores,
databases, repositories, websites and exported wikis and chats.

Importing this package registers the built-in connector types. Add one by subclassing
:class:`Connector` and decorating it with :func:`register_connector`.
"""

from __future__ import annotations

from connectors import exports, filesystem, git, imap, s3, sql, web  # noqa: F401 - register types
from connectors.base import Connector, ConnectorOptions, Fetched, Item, Listing
from connectors.base import TransientSourceError as TransientSourceError
from connectors.registry import (
    connector_class,
    connector_types,
    create_connector,
    register_connector,
)
from connectors.report import SyncFailure, SyncReport
from connectors.scheduler import Scheduler
from connectors.sync import SyncRunner

__all__ = [
    "Connector",
    "ConnectorOptions",
    "Fetched",
    "Item",
    "Listing",
    "Scheduler",
    "SyncFailure",
    "SyncReport",
    "SyncRunner",
    "TransientSourceError",
    "connector_class",
    "connector_types",
    "create_connector",
    "register_connector",
]
