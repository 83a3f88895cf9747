"""The one exception tree of rsi_rag.

Every error the library raises on purpose derives from :class:`RsiRagError`. Messages
quote the offending value and say how to fix it. ``service/`` maps each class to an HTTP
status code in one place, using the ``status`` and ``code`` attributes declared here.

::

    RsiRagError
    ├── ConfigError                  bad configuration value
    ├── ValidationError              bad argument or request content
    │   ├── PayloadTooLargeError     over a configured size limit
    │   └── FrozenDataError          training asked to read frozen evaluation data
    ├── NotFoundError
    │   ├── UnknownTenantError
    │   ├── UnknownCollectionError
    │   ├── UnknownDocumentError
    │   ├── UnknownInteractionError
    │   ├── UnknownModelVersionError
    │   └── UnknownSourceError
    ├── ConflictError                duplicate name, job already running
    ├── IngestError                  one file could not be ingested
    │   ├── UnsupportedFileError
    │   ├── CorruptFileError
    │   ├── EmptyFileError
    │   └── FileTooLargeError
    ├── ModelError                   a model folder is missing or broken
    │   └── ModelNotFoundError
    ├── IndexCorruptError            an index file on disk cannot be read
    ├── NotEnoughDataError           too little data to train or evaluate
    ├── SourceError                  a connector's source cannot be read as a whole
    │   ├── SourceUnavailableError   unreachable, timed out or missing
    │   └── SourceAuthError          the source refused the credentials
    ├── AuthenticationError          missing or unknown API key
    ├── PermissionDeniedError        the key's role or tenant does not allow it
    └── RateLimitedError             too many requests
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "CorruptFileError",
    "EmptyFileError",
    "FileTooLargeError",
    "FrozenDataError",
    "IndexCorruptError",
    "IngestError",
    "ModelError",
    "ModelNotFoundError",
    "NotEnoughDataError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RsiRagError",
    "SourceAuthError",
    "SourceError",
    "SourceUnavailableError",
    "UnknownCollectionError",
    "UnknownDocumentError",
    "UnknownInteractionError",
    "UnknownModelVersionError",
    "UnknownSourceError",
    "UnknownTenantError",
    "UnsupportedFileError",
    "ValidationError",
    "error_for_code",
]


class RsiRagError(Exception):
    """Root of every error rsi_rag raises on purpose.

    Attributes:
        code: A stable machine-readable code, used by the service and the SDK.
        status: The HTTP status code the service answers with.
    """

    code = "rsi_rag_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(RsiRagError):
    """A configuration value is invalid."""

    code = "config_error"
    status = 400


class ValidationError(RsiRagError):
    """An argument or request body is invalid."""

    code = "validation_error"
    status = 400


class PayloadTooLargeError(ValidationError):
    """A request or file exceeds a configured size limit."""

    code = "payload_too_large"
    status = 413


class FrozenDataError(ValidationError):
    """Training was asked to read examples frozen for evaluation."""

    code = "frozen_data"
    status = 409


class NotFoundError(RsiRagError):
    """A named entity does not exist."""

    code = "not_found"
    status = 404


class UnknownTenantError(NotFoundError):
    """No tenant has this name."""

    code = "unknown_tenant"


class UnknownCollectionError(NotFoundError):
    """No collection has this name for the tenant."""

    code = "unknown_collection"


class UnknownDocumentError(NotFoundError):
    """No document has this id or source in the collection."""

    code = "unknown_document"


class UnknownInteractionError(NotFoundError):
    """No interaction has this id."""

    code = "unknown_interaction"


class UnknownModelVersionError(NotFoundError):
    """No model version has this id."""

    code = "unknown_model_version"


class UnknownSourceError(NotFoundError):
    """No connector source has this name for the tenant."""

    code = "unknown_source"


class ConflictError(RsiRagError):
    """The request conflicts with the current state (duplicate, job already running)."""

    code = "conflict"
    status = 409


class IngestError(RsiRagError):
    """One file or document could not be ingested.

    Attributes:
        source: The file path or source id that failed.
    """

    code = "ingest_error"
    status = 422

    def __init__(self, message: str, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class UnsupportedFileError(IngestError):
    """The file type has no reader."""

    code = "unsupported_file"
    status = 415


class CorruptFileError(IngestError):
    """The file could not be parsed."""

    code = "corrupt_file"


class EmptyFileError(IngestError):
    """The file holds no text."""

    code = "empty_file"


class FileTooLargeError(IngestError):
    """The file exceeds the configured size limit."""

    code = "file_too_large"
    status = 413


class ModelError(RsiRagError):
    """A model could not be loaded or used."""

    code = "model_error"
    status = 503


class ModelNotFoundError(ModelError):
    """A model folder or package is missing."""

    code = "model_not_found"


class IndexCorruptError(RsiRagError):
    """An index file on disk cannot be read."""

    code = "index_corrupt"
    status = 500


class NotEnoughDataError(RsiRagError):
    """Too little data to train or evaluate."""

    code = "not_enough_data"
    status = 422


class SourceError(RsiRagError):
    """A connector's source could not be listed or read as a whole."""

    code = "source_error"
    status = 502


class SourceUnavailableError(SourceError):
    """The source is unreachable, timed out, or the named container does not exist."""

    code = "source_unavailable"
    status = 503


class SourceAuthError(SourceError):
    """The source refused the configured credentials."""

    code = "source_auth"
    status = 502


class AuthenticationError(RsiRagError):
    """The API key is missing or unknown."""

    code = "unauthenticated"
    status = 401


class PermissionDeniedError(RsiRagError):
    """The key's role or tenant does not allow the operation."""

    code = "permission_denied"
    status = 403


class RateLimitedError(RsiRagError):
    """Too many requests in the current window."""

    code = "rate_limited"
    status = 429


def _all_error_classes() -> list[type[RsiRagError]]:
    seen: list[type[RsiRagError]] = []
    stack: list[type[RsiRagError]] = [RsiRagError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen


def error_for_code(code: str, message: str) -> RsiRagError:
    """Rebuild an error from its stable ``code`` (used by the SDK).

    Args:
        code: The ``code`` attribute sent by the service.
        message: The message to carry.

    Returns:
        An instance of the most specific class with that code, or ``RsiRagError``.
    """
    for cls in _all_error_classes():
        if cls.code == code:
            return cls(message)
    return RsiRagError(message)
