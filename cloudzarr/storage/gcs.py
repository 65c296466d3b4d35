"""The Google Cloud Storage store: gcsfs's session and credentials, one JSON-API request per op.

=====================  ====================================================================
operation              requests (names as counted in ``store.requests``)
=====================  ====================================================================
get, range, suffix     1 ``GET object`` (``alt=media`` with a ``Range`` header)
set                    1 ``POST upload`` (multipart upload)
set_if_not_exists      1 ``POST upload`` with ``ifGenerationMatch=0`` (412 -> False)
get_with_version       1 ``GET object`` (the version is its ``x-goog-generation`` header)
set_if_version         1 ``POST upload`` with ``ifGenerationMatch=<generation>`` (412 -> False)
exists, getsize        1 ``GET metadata``
delete                 1 ``DELETE object``
list_dir               1 ``GET list`` with ``delimiter=/`` per page (1,000 on GCS)
list, list_prefix      1 ``GET list`` per page
delete_dir             ``GET list`` pages + 1 ``POST batch`` per 100 keys (GCS's batch limit)
=====================  ====================================================================

Requests are counted by an aiohttp ``TraceConfig`` on the store's own session, so retries are
counted too.

Compare-and-swap is GCS's generation precondition, atomic against every other write: each
write of an object gives it a new generation. A conditional upload that was sent again after a
transient failure and then refused is settled by reading the object (see
:meth:`~cloudzarr.storage.cloud.CloudStore._settle_refused_retry`).
"""

from __future__ import annotations

import os

# gcsfs probes buckets for the hierarchical namespace over gRPC unless this is set before it is
# imported; against emulators (and most buckets) the probe waits 60 s for a timeout.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

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
    http_range_header,
)
from cloudzarr.storage.cloud import CloudStore, count_attempts, note_attempt

#: GCS's limit on sub-requests in one batch request.
BATCH_LIMIT = 100
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_ATTEMPTS = 5


def _request_kind(method: str, url: str) -> str:
    """The name a request is counted under (see the module docstring)."""
    parts = urlsplit(url)
    path, query = parts.path, parts.query
    if "/batch/" in path:
        return "POST batch"
    if "/upload/" in path:
        return "POST upload"
    if method == "GET" and path.rstrip("/").endswith("/o"):
        return "GET list"
    if method == "GET":
        return "GET object" if "alt=media" in query else "GET metadata"
    if method == "DELETE":
        return "DELETE object"
    return f"{method} {path.rsplit('/', 1)[-1]}"


class GCSStore(CloudStore):
    """A store in a Google Cloud Storage bucket, through gcsfs's session and credentials.

    Parameters
    ----------
    bucket
        The bucket name.
    prefix
        The store's root inside the bucket (``""``: the bucket root).
    storage_options
        gcsfs keyword arguments as users know them: ``token``, ``project``, ``endpoint_url``,
        ``requester_pays``, ``session_kwargs``...
    read_only, concurrency
        As for :class:`~cloudzarr.storage.base.Store`; the concurrency defaults to
        ``CLOUDZARR_GCS_CONCURRENCY``, then ``CLOUDZARR_CONCURRENCY``, then 32.

    Notes
    -----
    ``store.requests`` counts HTTP requests as ``GET object``, ``GET metadata``, ``GET list``,
    ``POST upload``, ``DELETE object`` and ``POST batch``. A missing bucket is reported as
    :class:`~cloudzarr.errors.StoreNotFoundError` by listings and writes; a read of a key in a
    missing bucket returns None when the server does not say which of the two is missing
    (fake-gcs-server answers a bare "Not Found").
    """

    default_concurrency = 32
    concurrency_env = "CLOUDZARR_GCS_CONCURRENCY"
    supports_atomic_create = True
    supports_suffix_ranges = True
    supports_bulk_delete = True
    supports_compare_and_swap = True
    counts_requests_per_operation = False
    url_schemes = ("gs", "gcs")
    scheme = "gs"
    cloud_name = "GCS"

    # --- connections -----------------------------------------------------------------------

    async def _open_filesystem(self) -> Any:
        from gcsfs import GCSFileSystem

        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._on_request_start)
        session_kwargs = dict(self._options.get("session_kwargs") or {})
        session_kwargs["trace_configs"] = [*session_kwargs.get("trace_configs", []), trace]
        options = {**self._options, "session_kwargs": session_kwargs}
        fs = GCSFileSystem(
            **options,
            asynchronous=True,
            skip_instance_cache=True,
            use_listings_cache=False,
            loop=asyncio.get_running_loop(),
        )
        await fs._set_session()
        return fs

    async def _on_request_start(
        self, session: Any, context: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        self.requests.record(_request_kind(params.method, str(params.url)))
        note_attempt()

    # --- requests --------------------------------------------------------------------------

    def _object_url(self, fs: Any, key: str) -> str:
        return f"{fs.base}b/{quote(self._bucket, safe='')}/o/{quote(self._key(key), safe='')}"

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any, bytes]:
        """Send one request (retrying transient failures) and return status, headers, body."""
        fs = await self._filesystem()
        session = await fs._set_session()
        for attempt in range(_ATTEMPTS):
            try:
                async with session.request(
                    method,
                    url,
                    params=fs._get_params(params or {}),
                    headers=fs._get_headers(headers),
                    data=data,
                    timeout=fs.requests_timeout,
                ) as response:
                    body = await response.read()
                    status = response.status
                    if status not in _RETRY_STATUSES or attempt == _ATTEMPTS - 1:
                        return status, response.headers, body
            except (aiohttp.ClientConnectionError, TimeoutError):
                if attempt == _ATTEMPTS - 1:
                    raise
            # Back-off between attempts of a failed request (not synchronisation).
            await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
        raise AssertionError("unreachable")

    def _error(self, exc: BaseException, key: str) -> BaseException:
        where = self._where(key)
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, FileNotFoundError):
            return StoreNotFoundError(f"GCS bucket {self._bucket!r} does not exist ({where})")
        if isinstance(exc, PermissionError) or "Forbidden" in str(exc):
            return AccessDeniedError(f"access denied by GCS for {where}; check the credentials")
        code = getattr(exc, "code", None)
        if code in (401, 403):
            return AccessDeniedError(f"access denied by GCS ({code}) for {where}")
        if code in (429, 503):
            return ThrottledError(f"GCS throttled {where} ({code}); retry later")
        return StoreError(f"GCS request for {where} failed: {type(exc).__name__}")

    def _status_error(self, status: int, body: bytes, key: str, operation: str) -> StoreError:
        """A cloudzarr error for an HTTP error status, naming bucket and key."""
        where = self._where(key)
        message = _error_message(body)
        if status == 404:
            return StoreNotFoundError(f"GCS bucket {self._bucket!r} does not exist ({where})")
        if status in (401, 403):
            return AccessDeniedError(
                f"access denied by GCS (HTTP {status}) for {operation} {where}; "
                "check the credentials"
            )
        if status == 412:
            return PreconditionFailedError(f"precondition failed for {operation} {where}")
        if status in (429, 503):
            return ThrottledError(f"GCS throttled {operation} {where} (HTTP {status})")
        return StoreError(f"GCS {operation} {where} failed: HTTP {status} {message}")

    # --- hooks -----------------------------------------------------------------------------

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        header = http_range_header(byte_range)
        if header == "":
            # An empty range has no HTTP form: only whether the key exists matters.
            return b"" if await self._exists(key) else None
        fs = await self._filesystem()
        headers = {"Range": header} if header else None
        try:
            status, _, body = await self._send(
                "GET", self._object_url(fs, key), params={"alt": "media"}, headers=headers
            )
        except Exception as exc:
            raise self._error(exc, key) from None
        if status in (200, 206):
            return body
        if status == 416:
            return b""  # the range starts past the end of an existing value
        if status == 404:
            if _bucket_missing(body):
                raise self._status_error(status, body, key, "GET")
            return None
        raise self._status_error(status, body, key, "GET")

    async def _metadata(self, key: str) -> dict[str, Any] | None:
        fs = await self._filesystem()
        try:
            status, _, body = await self._send("GET", self._object_url(fs, key))
        except Exception as exc:
            raise self._error(exc, key) from None
        if status == 404:
            if _bucket_missing(body):
                raise self._status_error(status, body, key, "GET metadata")
            return None
        if status != 200:
            raise self._status_error(status, body, key, "GET metadata")
        result: dict[str, Any] = json.loads(body)
        return result

    async def _exists(self, key: str) -> bool:
        return await self._metadata(key) is not None

    async def _getsize(self, key: str) -> int:
        meta = await self._metadata(key)
        if meta is None:
            raise KeyNotFoundError(f"no value at key {key!r} in {self.url}")
        return int(meta["size"])

    async def _upload(self, key: str, value: bytes, *, create: bool) -> None:
        from gcsfs.core import simple_upload

        fs = await self._filesystem()
        await simple_upload(
            fs, self._bucket, self._key(key), value, mode="create" if create else "overwrite"
        )

    async def _set(self, key: str, value: bytes) -> None:
        try:
            await self._upload(key, value, create=False)
        except Exception as exc:
            raise self._error(exc, key) from None

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        try:
            await self._upload(key, value, create=True)
        except FileExistsError:
            return False  # HTTP 412: ifGenerationMatch=0 failed, the object exists
        except Exception as exc:
            raise self._error(exc, key) from None
        return True

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        fs = await self._filesystem()
        try:
            status, headers, body = await self._send(
                "GET", self._object_url(fs, key), params={"alt": "media"}
            )
        except Exception as exc:
            raise self._error(exc, key) from None
        if status == 200:
            generation = headers.get("x-goog-generation")
            if generation is None:
                raise StoreError(f"GCS sent no x-goog-generation header for {self._where(key)}")
            return body, str(generation)
        if status == 404 and not _bucket_missing(body):
            return None
        raise self._status_error(status, body, key, "GET")

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        fs = await self._filesystem()
        boundary = f"cloudzarr-{uuid.uuid4().hex}"
        head = (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps({'name': self._key(key)})}\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        body = head.encode() + value + f"\r\n--{boundary}--\r\n".encode()
        url = f"{fs._location}/upload/storage/v1/b/{quote(self._bucket, safe='')}/o"
        with count_attempts() as attempts:
            try:
                status, _, content = await self._send(
                    "POST",
                    url,
                    params={"uploadType": "multipart", "ifGenerationMatch": version},
                    headers={"Content-Type": f"multipart/related; boundary={boundary}"},
                    data=body,
                )
            except Exception as exc:
                raise self._error(exc, key) from None
        if status == 200:
            return True
        if status == 412 or (status == 404 and not _bucket_missing(content)):
            return await self._settle_refused_retry(key, value, attempts[0])
        raise self._status_error(status, content, key, "POST upload")

    async def _delete(self, key: str) -> None:
        fs = await self._filesystem()
        try:
            status, _, body = await self._send("DELETE", self._object_url(fs, key))
        except Exception as exc:
            raise self._error(exc, key) from None
        if status in (200, 204, 404):
            return
        raise self._status_error(status, body, key, "DELETE")

    async def _delete_dir(self, prefix: str) -> None:
        async for keys, _ in self._object_pages(prefix, delimiter=False):
            full = [self._key(k) for k in keys]
            batches = [full[i : i + BATCH_LIMIT] for i in range(0, len(full), BATCH_LIMIT)]
            # A page's batches (at most 10) go out together, within the store's concurrency.
            step = self.limiter.size
            for j in range(0, len(batches), step):
                await asyncio.gather(
                    *(self._batch_delete(b, prefix) for b in batches[j : j + step])
                )

    async def _batch_delete(self, names: list[str], prefix: str) -> None:
        """Delete up to 100 objects in one batch request; missing objects are fine."""
        fs = await self._filesystem()
        boundary = f"cloudzarr-{uuid.uuid4().hex}"
        base_path = urlsplit(fs.base).path  # "/storage/v1/"
        bucket = quote(self._bucket, safe="")
        # Each part is a whole HTTP request; fake-gcs-server (like GCS) wants its headers.
        parts = [
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-Transfer-Encoding: binary\r\nContent-ID: <{i}>\r\n\r\n"
            f"DELETE {base_path}b/{bucket}/o/{quote(name, safe='')} HTTP/1.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n\r\n"
            for i, name in enumerate(names)
        ]
        body = ("".join(parts) + f"--{boundary}--\r\n").encode()
        try:
            status, _, content = await self._send(
                "POST",
                fs.batch_url_base,
                headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
                data=body,
            )
        except Exception as exc:
            raise self._error(exc, prefix) from None
        if status != 200:
            raise self._status_error(status, content, prefix, "POST batch")
        statuses = [int(s) for s in re.findall(rb"HTTP/\d(?:\.\d)? (\d{3})", content)]
        failed = [s for s in statuses if s not in (200, 204, 404)]
        if failed or len(statuses) != len(names):
            raise StoreError(
                f"GCS batch delete under {self.url}/{prefix} failed for "
                f"{len(failed) or len(names) - len(statuses)} of {len(names)} objects "
                f"(statuses {sorted(set(failed))})"
            )

    async def _object_pages(
        self, prefix: str, *, delimiter: bool
    ) -> AsyncIterator[tuple[list[str], list[str]]]:
        """Yield ``(keys, child_prefixes)`` per listing page, relative to the store root."""
        fs = await self._filesystem()
        root = self._key(prefix) if prefix else self._prefix
        params: dict[str, Any] = {"prefix": f"{root}/" if root else "", "maxResults": 1000}
        if delimiter:
            params["delimiter"] = "/"
        strip = len(self._prefix) + 1 if self._prefix else 0
        url = f"{fs.base}b/{quote(self._bucket, safe='')}/o"
        while True:
            try:
                status, _, body = await self._send("GET", url, params=params)
            except Exception as exc:
                raise self._error(exc, prefix) from None
            if status != 200:
                raise self._status_error(status, body, prefix, "GET list")
            page = json.loads(body)
            keys = [item["name"][strip:] for item in page.get("items", [])]
            prefixes = [p[strip:] for p in page.get("prefixes", [])]
            yield keys, prefixes
            token = page.get("nextPageToken")
            if not token:
                return
            params["pageToken"] = token


def _bucket_missing(body: bytes) -> bool:
    """Whether a 404 body says the bucket (not the object) is missing, as GCS phrases it."""
    return "bucket does not exist" in _error_message(body).lower()


def _error_message(body: bytes) -> str:
    try:
        error = json.loads(body)["error"]
        return str(error.get("message", "")) if isinstance(error, dict) else str(error)
    except (ValueError, KeyError, TypeError, AttributeError):
        return body[:200].decode(errors="replace").strip()
