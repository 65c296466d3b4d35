"""The S3 store: obstore's S3 client under cloudzarr's request layer, one request per operation.

=====================  =====================================================================
operation              requests (names as counted in ``store.requests``)
=====================  =====================================================================
get, range, suffix     1 ``GetObject`` (with a ``Range`` header; a suffix is ``bytes=-n``)
set                    1 ``PutObject``
set_if_not_exists      1 ``PutObject`` with ``If-None-Match: *`` (412 -> False)
get_with_version       1 ``GetObject`` (the version is the response's ``ETag``)
set_if_version         1 ``PutObject`` with ``If-Match: <ETag>`` (412 -> False; on a server
                       that refuses quoted ETags, such as radosgw, see below)
exists, getsize        1 ``HeadObject``
delete                 1 ``DeleteObject``
list_dir               1 ``ListObjectsV2`` with ``Delimiter=/`` per 1,000 children
list, list_prefix      1 ``ListObjectsV2`` per 1,000 keys
delete_dir             per 1,000 keys: 1 ``ListObjectsV2`` + 1 ``DeleteObjects``
=====================  =====================================================================

Retries, timeouts and counting are :mod:`cloudzarr.storage.transport`'s; conditional writes carry
a write token (``x-amz-meta-cloudzarrtoken``) read back after a resend (see
:mod:`cloudzarr.storage.cloud`).

``storage_options`` are s3fs's names: ``key``, ``secret``, ``token``, ``endpoint_url``,
``anon``, ``profile``, ``requester_pays``, ``client_kwargs`` (``region_name``,
``endpoint_url``), ``config_kwargs`` (``s3={"addressing_style": ...}``) and ``region``.
Without ``key`` the credentials are found the way the AWS SDKs find them (environment variables,
the shared credentials and config files with ``profile`` / ``AWS_PROFILE``, SSO, web identity,
instance metadata) through botocore's resolver, refreshed before they expire.

S3-compatible servers: radosgw refuses ``If-Match`` with the quoted ETag that S3 returns (it
accepts the unquoted one). A swap refused with the quoted ETag is sent once more unquoted while
the store does not know which form its server takes; the form that succeeds is remembered for
the store's lifetime, so on AWS a refused swap costs one extra request only until a swap has
succeeded. A server that answers 501 to a conditional write raises
:class:`~cloudzarr.errors.UnsupportedError` naming the operation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cloudzarr.errors import AccessDeniedError
from cloudzarr.storage.base import Version
from cloudzarr.storage.objstore import ObstoreStore, obstore_settings

#: S3's limit on keys per DeleteObjects request.
DELETE_BATCH = 1000

_S3_OPTIONS = frozenset(
    {"key", "secret", "token", "endpoint_url", "anon", "profile", "requester_pays",
     "client_kwargs", "config_kwargs", "region", "use_ssl", "session_token"}
)  # fmt: skip


class _BotocoreCredentials:
    """An obstore credential provider backed by botocore's credential chain."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    def __call__(self) -> dict[str, Any]:
        frozen = self._credentials.get_frozen_credentials()
        expiry = getattr(self._credentials, "_expiry_time", None)
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": expiry.astimezone(UTC) if isinstance(expiry, datetime) else None,
        }

    def __repr__(self) -> str:
        return "_BotocoreCredentials()"


def _s3_client_kwargs(options: dict[str, Any], bucket: str, where: str) -> dict[str, Any]:
    """obstore ``S3Store`` keyword arguments for s3fs-style ``options`` (credentials included)."""
    client_kwargs = dict(options.get("client_kwargs") or {})
    endpoint = options.get("endpoint_url") or client_kwargs.get("endpoint_url")
    region = options.get("region") or client_kwargs.get("region_name")
    kwargs: dict[str, Any] = {}
    config: dict[str, Any] = {}
    if endpoint:
        config["endpoint"] = endpoint
        # A custom endpoint (MinIO, radosgw, moto...) takes path-style requests.
        addressing = ((options.get("config_kwargs") or {}).get("s3") or {}).get("addressing_style")
        config["virtual_hosted_style_request"] = addressing == "virtual"
    if region:
        config["region"] = region
    elif not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        config["region"] = "us-east-1"
    if options.get("requester_pays"):
        config["request_payer"] = True
    if options.get("anon"):
        config["skip_signature"] = True
    elif options.get("key") and options.get("secret"):
        config["access_key_id"] = options["key"]
        config["secret_access_key"] = options["secret"]
        token = options.get("token") or options.get("session_token")
        if token:
            config["token"] = token
    else:
        import botocore.session

        session = botocore.session.Session(profile=options.get("profile"))
        credentials = session.get_credentials()
        if credentials is None:
            raise AccessDeniedError(
                f"no S3 credentials found for {where}; pass storage_options key= and secret= "
                "(or anon=True for a public bucket), or set AWS_ACCESS_KEY_ID / AWS_PROFILE"
            )
        kwargs["credential_provider"] = _BotocoreCredentials(credentials)
        if not region and session.get_config_variable("region"):
            config["region"] = session.get_config_variable("region")
    kwargs["config"] = config
    return kwargs


class S3Store(ObstoreStore):
    """A store in an S3 bucket (or any S3-compatible service).

    Parameters
    ----------
    bucket
        The bucket name.
    prefix
        The store's root inside the bucket (``""``: the bucket root).
    storage_options
        s3fs keyword arguments as users know them: ``endpoint_url``, ``key``, ``secret``,
        ``token``, ``anon``, ``profile``, ``requester_pays``, ``client_kwargs``...
    read_only, concurrency, connect_timeout, request_timeout, hedge
        As for :class:`~cloudzarr.storage.cloud.CloudStore`; the concurrency defaults to
        ``CLOUDZARR_S3_CONCURRENCY``, then ``CLOUDZARR_CONCURRENCY``, then 64.

    Notes
    -----
    ``store.requests`` counts HTTP requests by S3 operation name: ``GetObject``,
    ``PutObject``, ``HeadObject``, ``DeleteObject``, ``DeleteObjects``, ``ListObjectsV2``.
    """

    default_concurrency = 64
    concurrency_env = "CLOUDZARR_S3_CONCURRENCY"
    supports_suffix_ranges = True
    url_schemes = ("s3", "s3a")
    scheme = "s3"
    cloud_name = "S3"
    option_names = _S3_OPTIONS
    page_size = DELETE_BATCH
    names = {
        "get": "GetObject",
        "head": "HeadObject",
        "put": "PutObject",
        "delete": "DeleteObject",
        "bulk_delete": "DeleteObjects",
        "list": "ListObjectsV2",
    }

    #: Whether this store's server takes ``If-Match`` quoted (None: not known yet).
    _quoted_etags: bool | None = None

    def _client_factory(self) -> Callable[[], Any]:
        bucket = self._bucket
        options = dict(self._options)
        settings = obstore_settings(self.timeouts)
        where = self.url

        def build() -> Any:
            from obstore.store import S3Store as ObstoreS3Store

            kwargs = _s3_client_kwargs(options, bucket, where)
            endpoint = str(kwargs["config"].get("endpoint", ""))
            settings["client_options"]["allow_http"] = endpoint.startswith("http://")
            return ObstoreS3Store(bucket, **kwargs, **settings)

        return build

    def _bucket_missing(self, text: str) -> bool:
        return "NoSuchBucket" in text

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        quoted = version.startswith('"') and version.endswith('"') and len(version) > 1
        if quoted and self._quoted_etags is False:
            version = version[1:-1]
        applied, attempts = await self._put_conditional(key, value, {"e_tag": version})
        if applied:
            if quoted and self._quoted_etags is None:
                self._quoted_etags = version.startswith('"')
            return True
        if not quoted or self._quoted_etags is not None or attempts.maybe_applied:
            return False
        # Not known yet whether the server refuses quoted ETags (radosgw): ask once unquoted.
        applied, _ = await self._put_conditional(key, value, {"e_tag": version[1:-1]})
        if applied:
            self._quoted_etags = False
        return applied
