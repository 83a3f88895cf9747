"""Objects in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, Ceph).

The version is the object's ETag, from the listing, so unchanged objects are never
downloaded. Access lists come from sidecar objects (``key.acl``) or the ``acl`` option;
a sidecar's ETag is part of the version, so changing it alone re-syncs the object.
Credentials are read from the environment variables the options name.
"""

from __future__ import annotations

from typing import Any

from connectors.base import (
    ACL_SUFFIX,
    Connector,
    ConnectorOptions,
    Fetched,
    Item,
    Listing,
    TransientSourceError,
    parse_acl,
)
from connectors.registry import read_secret, register_connector
from rsi_rag.errors import IngestError, SourceAuthError, SourceUnavailableError

__all__ = ["S3Connector", "S3Options"]

_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}
_MISSING_CODES = {"NoSuchBucket", "NoSuchKey", "404", "NotFound"}


class S3Options(ConnectorOptions):
    """Options of the ``s3`` connector.

    Attributes:
        bucket: The bucket to sync.
        prefix: Only keys under this prefix.
        endpoint_url: The server's URL for S3-compatible stores (``None``: AWS).
        region: The signing region.
        access_key_id_env: Environment variable holding the access key id.
        secret_access_key_env: Environment variable holding the secret key.
        suffixes: Key endings to sync.
        timeout_s: Connect and read timeout.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id_env: str = "AWS_ACCESS_KEY_ID"
    secret_access_key_env: str = "AWS_SECRET_ACCESS_KEY"
    suffixes: tuple[str, ...] = (
        ".csv",
        ".docx",
        ".htm",
        ".html",
        ".json",
        ".md",
        ".markdown",
        ".pdf",
        ".txt",
    )
    timeout_s: float = 10.0


@register_connector
class S3Connector(Connector):
    """Sync the objects of one bucket (under an optional prefix)."""

    type_name = "s3"
    Options = S3Options
    _client: Any = None

    @property
    def opts(self) -> S3Options:
        assert isinstance(self.options, S3Options)
        return self.options

    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            o = self.opts
            self._client = boto3.client(
                "s3",
                endpoint_url=o.endpoint_url,
                region_name=o.region,
                aws_access_key_id=read_secret(o.access_key_id_env, "the S3 access key id"),
                aws_secret_access_key=read_secret(o.secret_access_key_env, "the S3 secret key"),
                config=Config(
                    connect_timeout=o.timeout_s,
                    read_timeout=o.timeout_s,
                    retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": "path"},
                ),
            )
        return self._client

    def _source_error(self, exc: Exception) -> Exception:
        from botocore.exceptions import ClientError, EndpointConnectionError

        where = f"bucket {self.opts.bucket!r} at {self.opts.endpoint_url or 'AWS'}"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _AUTH_CODES:
                return SourceAuthError(
                    f"{where} refused the credentials ({code}); check the keys in "
                    f"${self.opts.access_key_id_env} and ${self.opts.secret_access_key_env}"
                )
            if code in _MISSING_CODES:
                return SourceUnavailableError(f"{where} does not exist ({code}); check 'bucket'")
            return SourceUnavailableError(f"{where} answered {code}: {exc}")
        if isinstance(exc, EndpointConnectionError):
            return SourceUnavailableError(
                f"{where} is unreachable ({exc}); check 'endpoint_url' and that the server runs"
            )
        return SourceUnavailableError(f"{where} failed: {type(exc).__name__}: {exc}")

    def _list(self, cursor: str | None) -> Listing:
        from botocore.exceptions import BotoCoreError, ClientError

        o = self.opts
        suffixes = tuple(s.lower() for s in o.suffixes)
        objects: dict[str, dict[str, Any]] = {}
        try:
            pages = (
                self.client()
                .get_paginator("list_objects_v2")
                .paginate(Bucket=o.bucket, Prefix=o.prefix)
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    objects[obj["Key"]] = obj
        except (ClientError, BotoCoreError) as exc:
            raise self._source_error(exc) from exc
        items = []
        for key, obj in sorted(objects.items()):
            if not key.lower().endswith(suffixes) or key.endswith("/"):
                continue
            sidecar = objects.get(key + ACL_SUFFIX)
            version = str(obj["ETag"]).strip('"')
            if sidecar is not None:
                version += "+" + str(sidecar["ETag"]).strip('"')
            items.append(
                Item(
                    id=f"s3://{o.bucket}/{key}",
                    version=version,
                    name=key,
                    size=int(obj.get("Size", 0)),
                    acl=None if sidecar is not None else tuple(o.acl),
                    metadata={
                        "bucket": o.bucket,
                        "key": key,
                        "file_type": key.rsplit(".", 1)[-1].lower(),
                    },
                )
            )
        return Listing(items, complete=True)

    def _get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError

        try:
            body = self.client().get_object(Bucket=self.opts.bucket, Key=key)["Body"]
            return bytes(body.read())
        except ClientError as exc:
            err = self._source_error(exc)
            if isinstance(err, SourceAuthError):
                raise err from exc
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_CODES:
                raise IngestError(
                    f"s3://{self.opts.bucket}/{key} was removed after it was listed", source=key
                ) from exc
            raise TransientSourceError(str(err)) from exc
        except (ConnectionError, BotoCoreError) as exc:
            raise TransientSourceError(f"s3://{self.opts.bucket}/{key}: {exc}") from exc

    def _fetch(self, item: Item) -> Fetched:
        data = self._get(item.name)
        acl = None
        if item.acl is None:
            acl = parse_acl(self._get(item.name + ACL_SUFFIX).decode("utf-8", "replace"))
        return Fetched(data, item.name, acl)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
