"""The Google Cloud Storage store: the JSON API over aiohttp under cloudzarr's request layer.

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

Why not obstore here: obstore 0.12's GCS client speaks the XML API with a path encoding and
token flow that fake-gcs-server (the emulator the project tests against) does not follow: with
``skip_signature`` it still asks the instance-metadata server for a token on writes, and its
object URLs (``/bucket%2D.../a%2Fk``) are not found there, so no operation could be tested. The
JSON API over one shared aiohttp session per configuration and event loop is lean (no payload
hashing, no SDK hooks) and under the same request layer (retries, timeouts, accounting) as the
obstore-backed S3 and Azure stores.

Credentials are gcsfs's (``token`` = ``"anon"``, ``"google_default"``, ``"cloud"``, a service
account file or dict, or a ``google.auth`` credentials object), refreshed before they expire.
Conditional uploads carry a write token (object metadata ``cloudzarrtoken``) read back after a
resend (see :mod:`cloudzarr.storage.cloud`).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp

from cloudzarr.errors import (
    AccessDeniedError,
    KeyNotFoundError,
    PreconditionFailedError,
    StoreError,
    StoreNotFoundError,
    ThrottledError,
    UnsupportedError,
)
from cloudzarr.storage.base import Version
from cloudzarr.storage.byte_range import ByteRequest, http_range_header
from cloudzarr.storage.cloud import TOKEN_FIELD, CloudStore, new_write_token
from cloudzarr.storage.sessions import close_loop_session, loop_session
from cloudzarr.storage.transport import (
    Attempts,
    Transient,
    Transport,
    configuration_key,
    shared_client,
)

#: GCS's limit on sub-requests in one batch request.
BATCH_LIMIT = 100
_DEFAULT_ENDPOINT = "https://storage.googleapis.com"

_GCS_OPTIONS = frozenset(
    {"token", "project", "endpoint_url", "requester_pays", "access", "session_kwargs",
     "consistency", "default_location", "version_aware"}
)  # fmt: skip


class _Answer(Exception):
    """An HTTP answer the transport may retry (408, 429, 5xx), or hands back."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body


class GCSTransport(Transport):
    """Classifies aiohttp failures and retryable HTTP answers."""

    def classify(self, exc: BaseException) -> Transient | None:
        if isinstance(exc, _Answer):
            if exc.status in (429, 503):
                return "throttled"
            return "server"
        if isinstance(exc, TimeoutError):
            return "timeout"
        if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientConnectionError):
            return "reset"
        return super().classify(exc)


def _credentials(options: dict[str, Any]) -> Any:
    from gcsfs.credentials import GoogleCredentials

    return GoogleCredentials(
        options.get("project"), options.get("access", "full_control"), options.get("token")
    )


class GCSStore(CloudStore):
    """A store in a Google Cloud Storage bucket.

    Parameters
    ----------
    bucket
        The bucket name.
    prefix
        The store's root inside the bucket (``""``: the bucket root).
    storage_options
        gcsfs keyword arguments as users know them: ``token``, ``project``, ``endpoint_url``,
        ``requester_pays``, ``session_kwargs`` (``headers``)...
    read_only, concurrency, connect_timeout, request_timeout, hedge
        As for :class:`~cloudzarr.storage.cloud.CloudStore`; the concurrency defaults to
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
    supports_suffix_ranges = True
    url_schemes = ("gs", "gcs")
    scheme = "gs"
    cloud_name = "GCS"
    option_names = _GCS_OPTIONS

    def _make_transport(self) -> Transport:
        return GCSTransport(self, self.timeouts, self.cloud_name)

    # --- connections -----------------------------------------------------------------------

    @property
    def _location(self) -> str:
        return str(self._options.get("endpoint_url") or _DEFAULT_ENDPOINT).rstrip("/")

    def _config_key(self) -> str:
        key: str | None = self.__dict__.get("_config_key_cache")
        if key is None:
            key = configuration_key("GCSStore", self._options, self.timeouts.__dict__)
            self.__dict__["_config_key_cache"] = key
        return key

    @property
    def _creds(self) -> Any:
        options = dict(self._options)
        return shared_client(self._config_key() + "#credentials", lambda: _credentials(options))

    def _session(self) -> aiohttp.ClientSession:
        return loop_session(self._config_key(), self._new_session)

    def _new_session(self) -> aiohttp.ClientSession:
        extra = dict(self._options.get("session_kwargs") or {})
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeouts.connect, sock_read=self.timeouts.request
        )
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            timeout=timeout,
            headers=extra.get("headers"),
            auto_decompress=False,
        )
        # aiohttp resends an idempotent request once when a kept-alive connection drops before
        # the answer; the request layer is the only one that retries (and counts).
        session._retry_connection = False
        return session

    async def close(self) -> None:
        """Close this configuration's session on the running loop (it reopens on next use)."""
        await close_loop_session(self._config_key())

    def _params(self, params: dict[str, Any] | None) -> dict[str, str]:
        out = {k: str(v) for k, v in (params or {}).items() if v is not None}
        payer = self._options.get("requester_pays")
        if payer:
            out["userProject"] = payer if isinstance(payer, str) else str(self._creds.project)
        return out

    async def _send(
        self,
        kind: str,
        method: str,
        url: str,
        key: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        attempts: Attempts | None = None,
        hedge: bool = False,
    ) -> tuple[int, Any, bytes]:
        """One request under the policy; returns status, headers and body of the answer."""
        session = self._session()
        creds = self._creds
        query = self._params(params)

        async def attempt() -> tuple[int, Any, bytes]:
            out = dict(headers or {})
            creds.apply(out)
            async with session.request(
                method, url, params=query, headers=out, data=data
            ) as response:
                body = await response.read()
                status = response.status
                if status in (408, 429) or (status >= 500 and status != 501):
                    raise _Answer(status, response.headers, body)
                return status, response.headers, body

        try:
            return await self.transport.run(
                kind,
                f"{method} {kind.split(' ', 1)[-1]}",
                self._where(key),
                attempt,
                attempts=attempts,
                hedging=self.hedging if hedge else None,
            )
        except _Answer as answer:  # pragma: no cover - a retryable answer ends as exhaustion
            return answer.status, answer.headers, answer.body
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"GCS {method} {self._where(key)} failed: {type(exc).__name__}"
            ) from None

    def _object_url(self, key: str) -> str:
        bucket = quote(self._bucket, safe="")
        return f"{self._location}/storage/v1/b/{bucket}/o/{quote(self._key(key), safe='')}"

    def _status_error(
        self, status: int, body: bytes, key: str, operation: str
    ) -> StoreError | UnsupportedError:
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
        if status == 501:
            return UnsupportedError(f"GCS service does not support {operation} ({where})")
        return StoreError(f"GCS {operation} {where} failed: HTTP {status} {message}")

    # --- hooks -----------------------------------------------------------------------------

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        header = http_range_header(byte_range)
        if header == "":
            # An empty range has no HTTP form: only whether the key exists matters.
            return b"" if await self._exists(key) else None
        headers = {"Range": header} if header else None
        status, _, body = await self._send(
            "GET object",
            "GET",
            self._object_url(key),
            key,
            params={"alt": "media"},
            headers=headers,
            hedge=True,
        )
        if status in (200, 206):
            return body
        if status == 416:
            return b""  # the range starts past the end of an existing value
        if status == 404 and not _bucket_missing(body):
            return None
        raise self._status_error(status, body, key, "GET")

    async def _metadata(self, key: str) -> dict[str, Any] | None:
        status, _, body = await self._send("GET metadata", "GET", self._object_url(key), key)
        if status == 404 and not _bucket_missing(body):
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

    async def _read_token(self, key: str) -> tuple[bool, str | None]:
        meta = await self._metadata(key)
        if meta is None:
            return False, None
        return True, (meta.get("metadata") or {}).get(TOKEN_FIELD)

    async def _upload(
        self,
        key: str,
        value: bytes,
        *,
        generation: str | None = None,
        token: str | None = None,
        attempts: Attempts | None = None,
    ) -> tuple[int, bytes]:
        """One multipart upload (``generation``: ``ifGenerationMatch``); status and body."""
        boundary = f"cloudzarr-{uuid.uuid4().hex}"
        resource: dict[str, Any] = {"name": self._key(key)}
        if token is not None:
            resource["metadata"] = {TOKEN_FIELD: token}
        head = (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps(resource)}\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        body = b"".join((head.encode(), value, f"\r\n--{boundary}--\r\n".encode()))
        url = f"{self._location}/upload/storage/v1/b/{quote(self._bucket, safe='')}/o"
        status, _, content = await self._send(
            "POST upload",
            "POST",
            url,
            key,
            params={"uploadType": "multipart", "ifGenerationMatch": generation},
            headers={"Content-Type": f"multipart/related; boundary={boundary}"},
            data=body,
            attempts=attempts,
        )
        return status, content

    async def _set(self, key: str, value: bytes) -> None:
        status, content = await self._upload(key, value)
        if status != 200:
            raise self._status_error(status, content, key, "POST upload")

    async def _conditional(self, key: str, value: bytes, generation: str) -> bool:
        token = new_write_token()
        attempts = Attempts()
        status, content = await self._upload(
            key, value, generation=generation, token=token, attempts=attempts
        )
        if status == 200:
            return True
        if status == 412 or (status == 404 and not _bucket_missing(content)):
            return await self._resolve_refusal(key, token, attempts, create=generation == "0")
        raise self._status_error(status, content, key, "POST upload")

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        return await self._conditional(key, value, "0")

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        status, headers, body = await self._send(
            "GET object", "GET", self._object_url(key), key, params={"alt": "media"}
        )
        if status == 200:
            generation = headers.get("x-goog-generation")
            if generation is None:
                raise StoreError(f"GCS sent no x-goog-generation header for {self._where(key)}")
            return body, str(generation)
        if status == 404 and not _bucket_missing(body):
            return None
        raise self._status_error(status, body, key, "GET")

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        return await self._conditional(key, value, version)

    async def _delete(self, key: str) -> None:
        status, _, body = await self._send("DELETE object", "DELETE", self._object_url(key), key)
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
        boundary = f"cloudzarr-{uuid.uuid4().hex}"
        bucket = quote(self._bucket, safe="")
        # Each part is a whole HTTP request; fake-gcs-server (like GCS) wants its headers.
        parts = [
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-Transfer-Encoding: binary\r\nContent-ID: <{i}>\r\n\r\n"
            f"DELETE /storage/v1/b/{bucket}/o/{quote(name, safe='')} HTTP/1.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n\r\n"
            for i, name in enumerate(names)
        ]
        body = ("".join(parts) + f"--{boundary}--\r\n").encode()
        status, _, content = await self._send(
            "POST batch",
            "POST",
            f"{self._location}/batch/storage/v1",
            prefix,
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
            data=body,
        )
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
        root = self._key(prefix) if prefix else self._prefix
        params: dict[str, Any] = {"prefix": f"{root}/" if root else "", "maxResults": 1000}
        if delimiter:
            params["delimiter"] = "/"
        strip = len(self._prefix) + 1 if self._prefix else 0
        url = f"{self._location}/storage/v1/b/{quote(self._bucket, safe='')}/o"
        while True:
            status, _, body = await self._send("GET list", "GET", url, prefix, params=params)
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
