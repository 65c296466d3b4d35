"""The S3 store: s3fs's client driven one request per operation.

s3fs's high-level methods cost more round trips than the operations need (a whole-object
``cat_file`` sends HEAD then GET; listings go through a cache). :class:`S3Store` keeps s3fs for
what it does well (credentials, sessions, retries with back-off) and calls the S3 API itself:

=====================  =====================================================================
operation              requests
=====================  =====================================================================
get, range, suffix     1 ``GetObject`` (with a ``Range`` header; a suffix is ``bytes=-n``)
set                    1 ``PutObject``
set_if_not_exists      1 ``PutObject`` with ``If-None-Match: *`` (412 -> False)
get_with_version       1 ``GetObject`` (the version is the response's ``ETag``)
set_if_version         1 ``PutObject`` with ``If-Match: <ETag>`` (412 or 404 -> False)
exists, getsize        1 ``HeadObject``
delete                 1 ``DeleteObject``
list_dir               1 ``ListObjectsV2`` with ``Delimiter=/`` per 1,000 children
list, list_prefix      1 ``ListObjectsV2`` per 1,000 keys
delete_dir             per 1,000 keys: 1 ``ListObjectsV2`` + 1 ``DeleteObjects``
=====================  =====================================================================

Requests are counted in ``store.requests`` under these operation names by a botocore
``before-send`` hook, so every HTTP attempt (retries included) is counted.

Compare-and-swap is S3's own conditional write, atomic against every other write to the key.
An ETag is the MD5 of a single-part object's bytes, so rewriting identical bytes keeps it
(the swap then still succeeds, correctly: the bytes it was computed from are what is stored).
If botocore retried the conditional ``PutObject`` (a lost response) and the retry got 412, the
key is read once: holding our bytes counts as written, anything else raises
:class:`~cloudzarr.errors.AmbiguousWriteError` (see
:meth:`~cloudzarr.storage.cloud.CloudStore._settle_refused_retry`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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
from cloudzarr.storage.keys import join_key

_ACCESS_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
     "ExpiredToken", "AllAccessDisabled", "403"}
)  # fmt: skip
_THROTTLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
     "ServiceUnavailable", "503"}
)  # fmt: skip
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})

#: S3's limit on keys per DeleteObjects request.
DELETE_BATCH = 1000


def _client_error(exc: BaseException) -> Any:
    """The botocore ``ClientError`` behind ``exc`` (s3fs re-raises it as an ``OSError``)."""
    from botocore.exceptions import ClientError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__
    return None


def _code_and_status(exc: BaseException) -> tuple[str | None, int | None]:
    err = _client_error(exc)
    if err is None:
        return None, None
    response = getattr(err, "response", {}) or {}
    code = response.get("Error", {}).get("Code")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return (str(code) if code is not None else None), status


class S3Store(CloudStore):
    """A store in an S3 bucket (or any S3-compatible service) through s3fs.

    Parameters
    ----------
    bucket
        The bucket name.
    prefix
        The store's root inside the bucket (``""``: the bucket root).
    storage_options
        s3fs keyword arguments as users know them: ``endpoint_url``, ``key``, ``secret``,
        ``token``, ``anon``, ``profile``, ``client_kwargs``, ``config_kwargs``...
    read_only, concurrency
        As for :class:`~cloudzarr.storage.base.Store`; the concurrency defaults to
        ``CLOUDZARR_S3_CONCURRENCY``, then ``CLOUDZARR_CONCURRENCY``, then 64, and also sizes
        botocore's connection pool (unless ``config_kwargs`` sets ``max_pool_connections``).

    Notes
    -----
    ``store.requests`` counts HTTP requests by S3 operation name: ``GetObject``,
    ``PutObject``, ``HeadObject``, ``DeleteObject``, ``DeleteObjects``, ``ListObjectsV2``.
    """

    default_concurrency = 64
    concurrency_env = "CLOUDZARR_S3_CONCURRENCY"
    supports_atomic_create = True
    supports_suffix_ranges = True
    supports_compare_and_swap = True
    url_schemes = ("s3", "s3a")
    scheme = "s3"
    cloud_name = "S3"

    # --- connections -----------------------------------------------------------------------

    async def _open_filesystem(self) -> Any:
        from s3fs import S3FileSystem

        config_kwargs = dict(self._options.get("config_kwargs") or {})
        # botocore's pool defaults to 10 connections: let the store's limiter be the bound.
        config_kwargs.setdefault("max_pool_connections", self.limiter.size)
        options = {**self._options, "config_kwargs": config_kwargs}
        fs = S3FileSystem(
            **options,
            asynchronous=True,
            skip_instance_cache=True,
            use_listings_cache=False,
            loop=asyncio.get_running_loop(),
        )
        await fs.set_session()
        fs.s3.meta.events.register("before-send.s3", self._count_request)
        return fs

    def _count_request(self, event_name: str = "", **kwargs: Any) -> None:
        # event_name is "before-send.s3.<Operation>"; returning None lets the request go out.
        self.requests.record(event_name.rsplit(".", 1)[-1])
        note_attempt()

    async def _close_filesystem(self, fs: Any) -> None:
        creator = getattr(fs, "_s3creator", None)
        if creator is not None:
            await creator.__aexit__(None, None, None)

    async def _s3(self, method: str, **kwargs: Any) -> Any:
        fs = await self._filesystem()
        return await fs._call_s3(method, Bucket=self._bucket, **kwargs)

    def _map_error(self, exc: BaseException, key: str, operation: str) -> BaseException:
        """A cloudzarr error for a failed S3 call, naming bucket and key, never credentials."""
        code, status = _code_and_status(exc)
        where = self._where(key)
        detail = f"{operation} {where}"
        if code == "NoSuchBucket":
            return StoreNotFoundError(f"S3 bucket {self._bucket!r} does not exist ({detail})")
        if type(exc).__name__ == "NoCredentialsError":  # botocore found no credentials at all
            return AccessDeniedError(
                f"no S3 credentials found for {detail}; pass storage_options key= and secret= "
                "(or a profile=), set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use anon=True "
                "for a public bucket"
            )
        if code in _ACCESS_CODES or status == 403 or isinstance(exc, PermissionError):
            return AccessDeniedError(
                f"access denied by S3 ({code or status}) for {detail}; check the credentials"
            )
        if code == "PreconditionFailed" or status == 412:
            return PreconditionFailedError(f"precondition failed for {detail}")
        if code in _THROTTLE_CODES or status in (429, 503):
            return ThrottledError(f"S3 throttled {detail} ({code or status}); retry later")
        if code is None:
            return StoreError(f"{detail} failed: {type(exc).__name__}: {exc}")
        return StoreError(f"{detail} failed: S3 error {code} (HTTP {status})")

    # --- hooks -----------------------------------------------------------------------------

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        header = http_range_header(byte_range)
        if header == "":
            # An empty range has no HTTP form: only whether the key exists matters.
            return b"" if await self._exists(key) else None
        kwargs: dict[str, Any] = {"Key": self._key(key)}
        if header is not None:
            kwargs["Range"] = header
        try:
            response = await self._s3("get_object", **kwargs)
            body = response["Body"]
            try:
                return bytes(await body.read())
            finally:
                body.close()
        except Exception as exc:
            code, status = _code_and_status(exc)
            if code in _MISSING_KEY_CODES:
                return None
            if code == "InvalidRange" or status == 416:
                # The range starts past the end of an existing value: nothing there.
                return b""
            raise self._map_error(exc, key, "GetObject") from None

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        try:
            response = await self._s3("get_object", Key=self._key(key))
            body = response["Body"]
            try:
                data = bytes(await body.read())
            finally:
                body.close()
        except Exception as exc:
            code, _ = _code_and_status(exc)
            if code in _MISSING_KEY_CODES:
                return None
            raise self._map_error(exc, key, "GetObject") from None
        return data, str(response["ETag"])

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        # 409 ConditionalRequestConflict: another conditional write to the key is in flight;
        # asking again gets the definitive 200 or 412 (as for set_if_not_exists).
        for _attempt in range(5):
            with count_attempts() as attempts:
                try:
                    await self._s3("put_object", Key=self._key(key), Body=value, IfMatch=version)
                except Exception as exc:
                    code, status = _code_and_status(exc)
                    if code == "ConditionalRequestConflict" or status == 409:
                        continue
                    refused = code == "PreconditionFailed" or status == 412
                    if refused or code in _MISSING_KEY_CODES or status == 404:
                        return await self._settle_refused_retry(key, value, attempts[0])
                    raise self._map_error(exc, key, "PutObject") from None
            return True
        raise PreconditionFailedError(
            f"conditional write of s3://{self._bucket}/{self._key(key)} kept conflicting"
        )

    async def _head(self, key: str) -> dict[str, Any] | None:
        try:
            response: dict[str, Any] = await self._s3("head_object", Key=self._key(key))
        except Exception as exc:
            code, status = _code_and_status(exc)
            if code in _MISSING_KEY_CODES or status == 404 or isinstance(exc, FileNotFoundError):
                return None
            raise self._map_error(exc, key, "HeadObject") from None
        return response

    async def _exists(self, key: str) -> bool:
        return await self._head(key) is not None

    async def _getsize(self, key: str) -> int:
        head = await self._head(key)
        if head is None:
            raise KeyNotFoundError(f"no value at key {key!r} in {self.url}")
        return int(head["ContentLength"])

    async def _set(self, key: str, value: bytes) -> None:
        try:
            await self._s3("put_object", Key=self._key(key), Body=value)
        except Exception as exc:
            raise self._map_error(exc, key, "PutObject") from None

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        # S3 answers 409 ConditionalRequestConflict while another conditional write to the key
        # is in flight; asking again then gets the definitive 200 or 412.
        for _attempt in range(5):
            try:
                await self._s3("put_object", Key=self._key(key), Body=value, IfNoneMatch="*")
            except Exception as exc:
                code, status = _code_and_status(exc)
                if code == "PreconditionFailed" or status == 412:
                    return False
                if code == "ConditionalRequestConflict" or status == 409:
                    continue
                raise self._map_error(exc, key, "PutObject") from None
            return True
        raise PreconditionFailedError(
            f"conditional create of s3://{self._bucket}/{self._key(key)} kept conflicting"
        )

    async def _delete(self, key: str) -> None:
        try:
            await self._s3("delete_object", Key=self._key(key))
        except Exception as exc:
            code, _ = _code_and_status(exc)
            if code in _MISSING_KEY_CODES:
                return
            raise self._map_error(exc, key, "DeleteObject") from None

    async def _delete_dir(self, prefix: str) -> None:
        # Each listing page (at most 1,000 keys) becomes one DeleteObjects request.
        async for page in self._object_pages(prefix, delimiter=False):
            keys = [join_key(self._prefix, k) for k in page[0]]
            if not keys:
                continue
            try:
                response = await self._s3(
                    "delete_objects",
                    Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
                )
            except Exception as exc:
                raise self._map_error(exc, prefix, "DeleteObjects") from None
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StoreError(
                    f"DeleteObjects in {self.url} failed for {len(errors)} keys, first "
                    f"{first.get('Key')!r}: {first.get('Code')}"
                )

    async def _object_pages(
        self, prefix: str, *, delimiter: bool
    ) -> AsyncIterator[tuple[list[str], list[str]]]:
        """Yield ``(keys, child_prefixes)`` per ListObjectsV2 page, relative to the store root."""
        root = join_key(self._prefix, prefix)
        list_prefix = f"{root}/" if root else ""
        strip = len(self._prefix) + 1 if self._prefix else 0
        kwargs: dict[str, Any] = {"Prefix": list_prefix}
        if delimiter:
            kwargs["Delimiter"] = "/"
        while True:
            try:
                response = await self._s3("list_objects_v2", **kwargs)
            except Exception as exc:
                raise self._map_error(exc, prefix, "ListObjectsV2") from None
            keys = [c["Key"][strip:] for c in response.get("Contents", [])]
            prefixes = [p["Prefix"][strip:] for p in response.get("CommonPrefixes", [])]
            yield keys, prefixes
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return
            kwargs["ContinuationToken"] = token
