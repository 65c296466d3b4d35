"""The Azure Blob store: adlfs resolves the credentials, the Azure SDK sends one request per op.

=====================  =====================================================================
operation              requests (names as counted in ``store.requests``)
=====================  =====================================================================
get, range             1 ``GetBlob`` (an empty blob costs 2: the SDK retries without a range)
suffix range           1 ``GetBlobProperties`` (the size) + 1 ``GetBlob``: Azure Blob has no
                       suffix ranges, so ``supports_suffix_ranges`` is False
set                    1 ``PutBlob``
set_if_not_exists      1 ``PutBlob`` with ``If-None-Match: *`` (409 BlobAlreadyExists -> False)
get_with_version       1 ``GetBlob`` (the version is the response's ``ETag``)
set_if_version         1 ``PutBlob`` with ``If-Match: <ETag>`` (412 or 404 -> False)
exists, getsize        1 ``GetBlobProperties``
delete                 1 ``DeleteBlob``
list_dir               1 ``ListBlobs`` with ``delimiter=/`` per 5,000 children
list, list_prefix      1 ``ListBlobs`` per 5,000 keys
delete_dir             ``ListBlobs`` pages + 1 ``BlobBatch`` per 256 keys; where the server
                       rejects batches (Azurite before 3.37 rejects the Python SDK's multipart
                       boundary) the keys are deleted one ``DeleteBlob`` each, concurrently,
                       and the store stops trying batches
=====================  =====================================================================

Requests are counted by the SDK's ``raw_request_hook``, which runs once per attempt.

Compare-and-swap is Azure's ``If-Match`` condition, atomic against every other write: every
write gives a blob a new ETag. A conditional upload the SDK sent again after a transient
failure and that was then refused is settled by reading the blob (see
:meth:`~cloudzarr.storage.cloud.CloudStore._settle_refused_retry`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cloudzarr.errors import (
    AccessDeniedError,
    KeyNotFoundError,
    PreconditionFailedError,
    StoreError,
    StoreNotFoundError,
    ThrottledError,
)
from cloudzarr.storage.base import Version
from cloudzarr.storage.byte_range import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
    resolve_range,
)
from cloudzarr.storage.cloud import CloudStore, count_attempts, note_attempt

#: Azure's limit on sub-requests in one blob batch.
BATCH_LIMIT = 256
_PAGE_SIZE = 5000


def _request_kind(method: str, url: str) -> str:
    """The Azure REST operation name a request is counted under."""
    query = urlsplit(url).query
    if "comp=batch" in query:
        return "BlobBatch"
    if "comp=list" in query:
        return "ListBlobs"
    if "restype=container" in query:
        return f"{method.title()}Container"
    return {
        "GET": "GetBlob",
        "HEAD": "GetBlobProperties",
        "PUT": "PutBlob",
        "DELETE": "DeleteBlob",
    }.get(method, method)


def _service_client(options: dict[str, Any], hook: Any) -> Any:
    """An async ``BlobServiceClient`` from adlfs-style options, counting requests with ``hook``.

    The options and environment variables are those adlfs reads: ``connection_string``
    (``AZURE_STORAGE_CONNECTION_STRING``), else ``account_name`` (``AZURE_STORAGE_ACCOUNT_NAME``)
    with ``account_host``, and one of ``credential``, ``account_key``
    (``AZURE_STORAGE_ACCOUNT_KEY``), ``sas_token`` (``AZURE_STORAGE_SAS_TOKEN``); ``anon=True``
    sends no credential, and with nothing given the default Azure credential chain is used when
    ``azure-identity`` is installed. (adlfs's own filesystem is not built: its close hook runs at
    interpreter exit on a stopped loop and prints an error per instance.)
    """
    from azure.storage.blob.aio import BlobServiceClient

    # The SDK reads a blob in 32 MiB requests by default; one request up to 1 GiB keeps a
    # whole-chunk read at one round trip.
    client_options: dict[str, Any] = {"raw_request_hook": hook, "max_single_get_size": 1 << 30}
    env = os.environ
    connection_string = options.get("connection_string") or env.get(
        "AZURE_STORAGE_CONNECTION_STRING"
    )
    if connection_string:
        return BlobServiceClient.from_connection_string(connection_string, **client_options)
    account = options.get("account_name") or env.get("AZURE_STORAGE_ACCOUNT_NAME")
    if not account:
        raise StoreError(
            "Azure storage_options need a connection_string or an account_name "
            "(or AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_ACCOUNT_NAME)"
        )
    host = options.get("account_host") or f"{account}.blob.core.windows.net"
    url = host if "://" in host else f"https://{host}"
    credential = (
        options.get("credential")
        or options.get("account_key")
        or env.get("AZURE_STORAGE_ACCOUNT_KEY")
    )
    sas = options.get("sas_token") or env.get("AZURE_STORAGE_SAS_TOKEN")
    if credential is None and sas:
        url = f"{url}?{sas.lstrip('?')}"
    elif credential is None and not options.get("anon", False):
        try:
            from azure.identity.aio import DefaultAzureCredential
        except ImportError:
            pass
        else:
            credential = DefaultAzureCredential()
    if isinstance(credential, str):
        credential = {"account_name": account, "account_key": credential}
    return BlobServiceClient(account_url=url, credential=credential, **client_options)


@dataclass
class _Connection:
    """One event loop's SDK clients."""

    service: Any
    container: Any


class AzureStore(CloudStore):
    """A store in an Azure Blob container.

    Parameters
    ----------
    container
        The container name.
    prefix
        The store's root inside the container (``""``: the container root).
    storage_options
        adlfs keyword arguments as users know them: ``connection_string``, ``account_name``,
        ``account_key``, ``sas_token``, ``credential``, ``anon``...
    read_only, concurrency
        As for :class:`~cloudzarr.storage.base.Store`; the concurrency defaults to
        ``CLOUDZARR_AZURE_CONCURRENCY``, then ``CLOUDZARR_CONCURRENCY``, then 32.

    Notes
    -----
    ``store.requests`` counts HTTP requests as ``GetBlob``, ``GetBlobProperties``,
    ``PutBlob``, ``DeleteBlob``, ``ListBlobs`` and ``BlobBatch``.
    """

    default_concurrency = 32
    concurrency_env = "CLOUDZARR_AZURE_CONCURRENCY"
    supports_atomic_create = True
    supports_suffix_ranges = False
    supports_bulk_delete = True
    supports_compare_and_swap = True
    counts_requests_per_operation = False
    url_schemes = ("az", "abfs", "abfss")
    scheme = "az"
    cloud_name = "Azure"
    bucket_word = "container"

    def __init__(
        self,
        container: str,
        prefix: str = "",
        *,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
        concurrency: int | None = None,
    ) -> None:
        super().__init__(
            container,
            prefix,
            storage_options=storage_options,
            read_only=read_only,
            concurrency=concurrency,
        )
        self._batch_rejected = False

    @classmethod
    def split_url(cls, url: str) -> tuple[str, str]:
        """Split ``az://container/prefix`` (or ``abfs://``) into ``(container, prefix)``.

        The ``abfs://container@account.dfs.core.windows.net/prefix`` form keeps the container.
        """
        container, prefix = super().split_url(url)
        container = container.split("@", 1)[0]
        if not container:
            raise StoreError(f"no container in Azure URL {url!r}")
        return container, prefix

    # --- connections -----------------------------------------------------------------------

    async def _open_filesystem(self) -> Any:
        service = _service_client(self._options, self._count_request)
        return _Connection(service, service.get_container_client(self._bucket))

    def _count_request(self, pipeline_request: Any) -> None:
        request = pipeline_request.http_request
        self.requests.record(_request_kind(request.method, request.url))
        note_attempt()

    async def _close_filesystem(self, fs: Any) -> None:
        connection: _Connection = fs
        await connection.service.close()

    async def _blobs(self) -> Any:
        connection: _Connection = await self._filesystem()
        return connection.container

    def _map_error(self, exc: BaseException, key: str, operation: str) -> BaseException:
        """A cloudzarr error naming container and blob, never credentials or SDK messages."""
        from azure.core.exceptions import ClientAuthenticationError

        status = getattr(exc, "status_code", None)
        raw_code = getattr(exc, "error_code", None) or ""
        code = str(getattr(raw_code, "value", raw_code))  # the SDK's codes are str enums
        where = self._where(key)
        detail = f"{operation} {where}"
        # What Azure said: its error code, else the HTTP status, else the kind of failure (an
        # SDK-side refusal, e.g. a malformed key, has neither).
        reason = code or (f"HTTP {status}" if status is not None else type(exc).__name__)
        if code == "ContainerNotFound":
            return StoreNotFoundError(f"Azure container {self._bucket!r} does not exist ({detail})")
        if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
            return AccessDeniedError(
                f"access denied by Azure ({reason}) for {detail}; check the credentials"
            )
        if status == 412:
            return PreconditionFailedError(f"precondition failed for {detail}")
        if status in (429, 503) or code in ("ServerBusy", "OperationTimedOut"):
            return ThrottledError(f"Azure throttled {detail} ({reason}); retry later")
        if status is None:
            return StoreError(f"{detail} failed: {type(exc).__name__}")
        return StoreError(f"{detail} failed: Azure error {code or '?'} (HTTP {status})")

    # --- hooks -----------------------------------------------------------------------------

    async def _download(self, key: str, offset: int | None, length: int | None) -> bytes | None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        blobs = await self._blobs()
        try:
            downloader = await blobs.download_blob(self._key(key), offset=offset, length=length)
            return bytes(await downloader.readall())
        except ResourceNotFoundError as exc:
            if str(getattr(exc, "error_code", "")) == "ContainerNotFound":
                raise self._map_error(exc, key, "GetBlob") from None
            return None
        except HttpResponseError as exc:
            if exc.status_code == 416:
                return b""  # the range starts past the end of an existing blob
            raise self._map_error(exc, key, "GetBlob") from None

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        match byte_range:
            case None:
                return await self._download(key, None, None)
            case RangeByteRequest(start, end):
                if end <= start:
                    return b"" if await self._exists(key) else None
                return await self._download(key, start, end - start)
            case OffsetByteRequest(offset):
                return await self._download(key, offset, None)
            case SuffixByteRequest():
                # Azure Blob has no suffix ranges: learn the size, then read a normal range.
                props = await self._properties(key)
                if props is None:
                    return None
                start, end = resolve_range(byte_range, int(props.size))
                if end <= start:
                    return b""
                return await self._download(key, start, end - start)
        raise TypeError(f"unknown byte request {byte_range!r}")

    async def _properties(self, key: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        blobs = await self._blobs()
        try:
            return await blobs.get_blob_client(self._key(key)).get_blob_properties()
        except ResourceNotFoundError as exc:
            # A HEAD has no body, so a missing container looks like a missing blob here.
            if str(getattr(exc, "error_code", "")) == "ContainerNotFound":
                raise self._map_error(exc, key, "GetBlobProperties") from None
            return None
        except Exception as exc:
            raise self._map_error(exc, key, "GetBlobProperties") from None

    async def _exists(self, key: str) -> bool:
        return await self._properties(key) is not None

    async def _getsize(self, key: str) -> int:
        props = await self._properties(key)
        if props is None:
            raise KeyNotFoundError(f"no value at key {key!r} in {self.url}")
        return int(props.size)

    async def _set(self, key: str, value: bytes) -> None:
        blobs = await self._blobs()
        try:
            await blobs.upload_blob(self._key(key), value, overwrite=True)
        except Exception as exc:
            raise self._map_error(exc, key, "PutBlob") from None

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        from azure.core.exceptions import ResourceExistsError

        blobs = await self._blobs()
        try:
            # overwrite=False sends If-None-Match: * (one conditional Put Blob).
            await blobs.upload_blob(self._key(key), value, overwrite=False)
        except ResourceExistsError as exc:
            if str(getattr(exc, "error_code", "")) == "ContainerNotFound":
                raise self._map_error(exc, key, "PutBlob") from None
            return False
        except Exception as exc:
            if getattr(exc, "status_code", None) in (409, 412):
                return False
            raise self._map_error(exc, key, "PutBlob") from None
        return True

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        from azure.core.exceptions import ResourceNotFoundError

        blobs = await self._blobs()
        try:
            downloader = await blobs.download_blob(self._key(key))
            data = bytes(await downloader.readall())
        except ResourceNotFoundError as exc:
            if str(getattr(exc, "error_code", "")) == "ContainerNotFound":
                raise self._map_error(exc, key, "GetBlob") from None
            return None
        except Exception as exc:
            raise self._map_error(exc, key, "GetBlob") from None
        return data, str(downloader.properties.etag)

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        blobs = await self._blobs()
        with count_attempts() as attempts:
            try:
                await blobs.upload_blob(
                    self._key(key),
                    value,
                    overwrite=True,
                    etag=version,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError) as exc:
                if str(getattr(exc, "error_code", "")) == "ContainerNotFound":
                    raise self._map_error(exc, key, "PutBlob") from None
                refused = True
            except Exception as exc:
                if getattr(exc, "status_code", None) not in (404, 412):
                    raise self._map_error(exc, key, "PutBlob") from None
                refused = True
            else:
                refused = False
        if refused:
            return await self._settle_refused_retry(key, value, attempts[0])
        return True

    async def _delete(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        blobs = await self._blobs()
        try:
            await blobs.delete_blob(self._key(key))
        except ResourceNotFoundError as exc:
            if str(getattr(exc, "error_code", "")) == "ContainerNotFound":
                raise self._map_error(exc, key, "DeleteBlob") from None
        except Exception as exc:
            raise self._map_error(exc, key, "DeleteBlob") from None

    async def _delete_dir(self, prefix: str) -> None:
        async for page, _ in self._object_pages(prefix, delimiter=False):
            names = [self._key(n) for n in page]
            for i in range(0, len(names), BATCH_LIMIT):
                await self._delete_many(names[i : i + BATCH_LIMIT], prefix)

    async def _delete_many(self, names: list[str], prefix: str) -> None:
        """Delete up to 256 blobs: one batch, then single deletes for whatever it did not do."""
        from azure.core.exceptions import HttpResponseError

        blobs = await self._blobs()
        remaining = names
        if not self._batch_rejected:
            try:
                responses = await blobs.delete_blobs(*names, raise_on_any_failure=False)
                statuses = [r.status_code async for r in responses]
            except HttpResponseError:
                statuses = [400] * len(names)
            remaining = [n for n, s in zip(names, statuses, strict=False) if s not in (202, 404)]
            if len(statuses) != len(names):
                remaining = names
            if remaining and len(remaining) == len(names):
                # The server does not take batches (Azurite < 3.37): stop sending them.
                self._batch_rejected = True
        # Single deletes, at most the store's concurrency at once (delete_dir holds one slot).
        step = self.limiter.size
        for i in range(0, len(remaining), step):
            chunk = remaining[i : i + step]
            await asyncio.gather(*(self._delete(self._relative_key(n)) for n in chunk))

    def _relative_key(self, name: str) -> str:
        return name[len(self._prefix) + 1 :] if self._prefix else name

    async def _object_pages(
        self, prefix: str, *, delimiter: bool
    ) -> AsyncIterator[tuple[list[str], list[str]]]:
        """Yield ``(names, [])`` per ListBlobs page; with ``delimiter`` the names hold the
        ``child/`` prefixes too (the SDK returns them in one sequence)."""
        blobs = await self._blobs()
        root = self._key(prefix) if prefix else self._prefix
        starts_with = f"{root}/" if root else None
        strip = len(self._prefix) + 1 if self._prefix else 0
        if delimiter:
            pager = blobs.walk_blobs(
                name_starts_with=starts_with, delimiter="/", results_per_page=_PAGE_SIZE
            ).by_page()
        else:
            pager = blobs.list_blob_names(
                name_starts_with=starts_with, results_per_page=_PAGE_SIZE
            ).by_page()
        try:
            async for page in pager:
                names = [getattr(item, "name", item) async for item in page]
                yield [n[strip:] for n in names], []
        except StoreError:
            raise
        except Exception as exc:
            raise self._map_error(exc, prefix, "ListBlobs") from None
