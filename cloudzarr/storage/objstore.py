"""The cloud stores that speak through obstore (Rust ``object_store``): S3 and Azure.

obstore sends each request from a Rust runtime with the GIL released, signs without hashing the
payload, and hands a Python ``bytes`` body over without another copy; measured against the
aiobotocore path it replaced it costs a fraction of the client CPU per request (see
``docs/TRANSPORT.md``). Its own retries are off (``max_retries=0``): each obstore call is one
HTTP attempt, counted and retried by :class:`~cloudzarr.storage.transport.Transport`.

A cloud subclass gives its client options (:meth:`ObstoreStore._client_factory`), the names its
operations are counted under (:attr:`ObstoreStore.names`) and its listing page size.

Listing counts: obstore pages a listing internally; a non-delimited listing is read in chunks
of one page (``page_size`` keys), each chunk counted as one list request (a listing that yields
nothing is one request). A delimited listing comes back whole and is counted as
``ceil(entries / page_size)`` requests (at least one), which is what a service that fills its
pages (S3, Azure) sends.

A ranged read of an empty object costs two requests where the service answers it with the whole
(empty) object (moto) or an unparseable ``Content-Range`` (Azurite: ``bytes 0--1/0``): obstore
refuses such an answer without its body, so the object is read whole and cut here.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any, ClassVar

from cloudzarr.errors import (
    AccessDeniedError,
    KeyNotFoundError,
    PreconditionFailedError,
    StoreError,
    StoreNotFoundError,
    UnsupportedError,
)
from cloudzarr.storage.base import ReadBuffer, Version
from cloudzarr.storage.byte_range import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
    resolve_range,
)
from cloudzarr.storage.cloud import TOKEN_FIELD, CloudStore, new_write_token
from cloudzarr.storage.keys import join_key
from cloudzarr.storage.transport import (
    Attempts,
    Timeouts,
    Transient,
    Transport,
    configuration_key,
    existing_client,
    shared_client,
)

_STATUS = re.compile(r"status code: (\d{3})")
_HTTP_KIND = re.compile(r"HttpError \{\s*kind: (\w+)")
_RESET_WORDS = (
    "error sending request", "connection", "reset", "broken pipe", "error decoding", "body",
    "incomplete", "unexpected eof", "closed",
)  # fmt: skip


def status_of(exc: BaseException) -> int | None:
    """The HTTP status in an obstore error's message, if the service answered."""
    match = _STATUS.search(str(exc))
    return int(match.group(1)) if match else None


def _range_past_end(exc: BaseException) -> bool:
    """Whether ``exc`` says a requested range starts past the end of the object."""
    text = str(exc)
    return status_of(exc) == 416 or "InvalidRange" in text or "not satisfiable" in text.lower()


def _range_unparsed(exc: BaseException) -> bool:
    """Whether obstore refused a ranged answer it could not match to the request."""
    text = str(exc)
    return "non-partial response" in text or "CONTENT_RANGE" in text


class ObstoreTransport(Transport):
    """Classifies obstore's errors (it reports HTTP statuses only in its messages)."""

    def refused_unapplied(self, exc: BaseException) -> bool:
        return _radosgw_cancelled(exc)

    def classify(self, exc: BaseException) -> Transient | None:
        from obstore.exceptions import GenericError

        basic = super().classify(exc)
        if basic is not None:
            return basic
        if not isinstance(exc, GenericError):
            return None
        status = status_of(exc)
        if status in (429, 503):
            return "throttled"
        if status is not None:
            # 501: the service lacks the feature (a conditional write): retrying cannot help.
            return "server" if (status >= 500 and status != 501) or status == 408 else None
        text = str(exc)
        kind = _HTTP_KIND.search(text)
        if kind is not None:
            # object_store's HttpErrorKind: Timeout, Connect, Request, Interrupted, Decode...
            return "timeout" if kind.group(1) == "Timeout" else "reset"
        lowered = text.lower().replace("retry_timeout", "")
        if "timed out" in lowered or "timeout" in lowered:
            return "timeout"
        if any(word in lowered for word in _RESET_WORDS):
            return "reset"
        return None


def _radosgw_cancelled(exc: BaseException) -> bool:
    """radosgw's answer to a conditional PUT that lost a race inside the server: HTTP 500
    ``UnknownError`` (status -125, "operation cancelled"), measured not applied."""
    return status_of(exc) == 500 and "<Code>UnknownError</Code>" in str(exc)


def obstore_settings(timeouts: Timeouts) -> dict[str, Any]:
    """obstore's ``client_options`` and ``retry_config`` for ``timeouts``, retries off."""
    return {
        "client_options": {
            "connect_timeout": timedelta(seconds=timeouts.connect),
            "timeout": timedelta(seconds=timeouts.request),
            "pool_idle_timeout": timedelta(seconds=60),
        },
        "retry_config": {
            "max_retries": 0,
            "retry_timeout": timedelta(seconds=timeouts.operation),
            "backoff": {"init_backoff": timedelta(0), "max_backoff": timedelta(0), "base": 2},
        },
    }


class ObstoreStore(CloudStore):
    """A bucket store whose requests go through an obstore client shared per configuration."""

    #: The names each kind of request is counted under in ``store.requests``.
    names: ClassVar[dict[str, str]]
    #: Entries per listing page the service sends.
    page_size: ClassVar[int] = 1000

    def _make_transport(self) -> Transport:
        return ObstoreTransport(self, self.timeouts, self.cloud_name)

    def _client_factory(self) -> Callable[[], Any]:
        """A function that builds the obstore store for this configuration."""
        raise NotImplementedError

    def _client_key(self) -> str:
        key: str | None = self.__dict__.get("_client_key_cache")
        if key is None:
            key = configuration_key(
                type(self).__name__, self._bucket, self._options, self.timeouts.__dict__
            )
            self.__dict__["_client_key_cache"] = key
        return key

    @property
    def client(self) -> Any:
        """The process's obstore store for this configuration (made on first use)."""
        return shared_client(self._client_key(), self._client_factory())

    async def _client(self) -> Any:
        """:attr:`client`, made on a worker thread the first time: finding credentials may
        ask a profile's SSO cache or the instance-metadata service, which must not block the
        event loop."""
        key = self._client_key()
        client = existing_client(key)
        if client is None:
            client = await asyncio.to_thread(shared_client, key, self._client_factory())
        return client

    async def _run(
        self,
        name: str,
        key: str,
        attempt: Callable[[], Any],
        *,
        attempts: Attempts | None = None,
        hedge: bool = False,
    ) -> Any:
        kind = self.names[name]
        try:
            return await self.transport.run(
                kind,
                kind,
                self._where(key),
                attempt,
                attempts=attempts,
                hedging=self.hedging if hedge else None,
            )
        except StoreError:
            raise
        except Exception as exc:
            raise self._map_error(exc, key, kind) from None

    def _map_error(self, exc: BaseException, key: str, operation: str) -> BaseException:
        """A cloudzarr error for a permanent failure, naming bucket and key, never credentials."""
        from obstore import exceptions as oe

        where = f"{operation} {self._where(key)}"
        status = status_of(exc)
        text = str(exc)
        if self._bucket_missing(text):
            return StoreNotFoundError(
                f"{self.cloud_name} {self.bucket_word} {self._bucket!r} does not exist ({where})"
            )
        if isinstance(exc, oe.PermissionDeniedError | oe.UnauthenticatedError) or status in (
            401,
            403,
        ):
            return AccessDeniedError(
                f"access denied by {self.cloud_name} for {where}; check the credentials"
            )
        if isinstance(exc, oe.PreconditionError | oe.AlreadyExistsError) or status == 412:
            return PreconditionFailedError(f"precondition failed for {where}")
        if isinstance(exc, oe.NotSupportedError) or status == 501:
            return UnsupportedError(
                f"{self.cloud_name} service does not support {operation} as sent ({where})"
            )
        detail = f"HTTP {status}" if status else type(exc).__name__
        return StoreError(f"{self.cloud_name} {where} failed: {detail}")

    def _bucket_missing(self, text: str) -> bool:
        return False

    def _is_missing(self, exc: BaseException) -> bool:
        from obstore.exceptions import NotFoundError

        missing = isinstance(exc, NotFoundError | FileNotFoundError) or status_of(exc) == 404
        return missing and not self._bucket_missing(str(exc))

    # --- reads -----------------------------------------------------------------------------

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        data = await self._get_buffer(key, byte_range)
        return data if data is None or isinstance(data, bytes) else data.tobytes()

    async def _get_buffer(self, key: str, byte_range: ByteRequest | None) -> ReadBuffer | None:
        import obstore

        options: dict[str, Any] = {}
        if isinstance(byte_range, RangeByteRequest):
            if byte_range.end <= byte_range.start:
                return b"" if await self._exists(key) else None
            options["range"] = (byte_range.start, byte_range.end)
        elif isinstance(byte_range, OffsetByteRequest):
            options["range"] = {"offset": byte_range.offset}
        elif isinstance(byte_range, SuffixByteRequest):
            if byte_range.suffix == 0:
                return b"" if await self._exists(key) else None
            options["range"] = {"suffix": byte_range.suffix}
        path = self._key(key)
        client = await self._client()

        async def attempt() -> memoryview:
            result = await obstore.get_async(client, path, options=options or None)  # type: ignore[arg-type]
            # A view of obstore's own buffer: no copy on the event loop, no second copy held.
            return memoryview(await result.bytes_async())

        try:
            return await self.transport.run(
                self.names["get"],
                self.names["get"],
                self._where(key),
                attempt,
                hedging=self.hedging,
            )
        except Exception as exc:
            if self._is_missing(exc):
                return None
            if byte_range is not None and _range_past_end(exc):
                return b""  # the range starts past the end of an existing value
            if byte_range is not None and _range_unparsed(exc):
                # The service answered a range of an empty object with the whole (empty)
                # object or a malformed Content-Range: read it whole and cut here.
                whole = await self._get_buffer(key, None)
                if whole is None:
                    return None
                start, end = resolve_range(byte_range, len(whole))
                return whole[start:end]
            if isinstance(exc, StoreError):
                raise
            raise self._map_error(exc, key, self.names["get"]) from None

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        import obstore

        path = self._key(key)
        client = await self._client()

        async def attempt() -> tuple[bytes, Version]:
            result = await obstore.get_async(client, path)
            data = bytes(await result.bytes_async())
            return data, str(result.meta["e_tag"])

        try:
            return await self.transport.run(
                self.names["get"], self.names["get"], self._where(key), attempt
            )
        except Exception as exc:
            if self._is_missing(exc):
                return None
            if isinstance(exc, StoreError):
                raise
            raise self._map_error(exc, key, self.names["get"]) from None

    async def _head(self, key: str) -> Any:
        import obstore

        path = self._key(key)
        client = await self._client()
        try:
            return await self.transport.run(
                self.names["head"],
                self.names["head"],
                self._where(key),
                lambda: obstore.head_async(client, path),
            )
        except Exception as exc:
            if self._is_missing(exc):
                return None
            if isinstance(exc, StoreError):
                raise
            raise self._map_error(exc, key, self.names["head"]) from None

    async def _exists(self, key: str) -> bool:
        return await self._head(key) is not None

    async def _getsize(self, key: str) -> int:
        head = await self._head(key)
        if head is None:
            raise KeyNotFoundError(f"no value at key {key!r} in {self.url}")
        return int(head["size"])

    async def _read_token(self, key: str) -> tuple[bool, str | None]:
        import obstore

        path = self._key(key)
        client = await self._client()

        async def attempt() -> dict[str, Any]:
            result = await obstore.get_async(client, path, options={"head": True})
            return dict(result.attributes)

        try:
            attributes = await self.transport.run(
                self.names["head"], self.names["head"], self._where(key), attempt
            )
        except Exception as exc:
            if self._is_missing(exc):
                return False, None
            if isinstance(exc, StoreError):
                raise
            raise self._map_error(exc, key, self.names["head"]) from None
        return True, attributes.get(TOKEN_FIELD)

    # --- writes ----------------------------------------------------------------------------

    async def _set(self, key: str, value: bytes) -> None:
        import obstore

        path = self._key(key)
        client = await self._client()
        await self._run(
            "put", key, lambda: obstore.put_async(client, path, value, use_multipart=False)
        )

    async def _put_conditional(self, key: str, value: bytes, mode: Any) -> tuple[bool, Attempts]:
        """One conditional put (retried by the policy): ``(applied, attempts)``."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError

        path = self._key(key)
        client = await self._client()
        token = new_write_token()
        attempts = Attempts()

        def attempt() -> Any:
            return obstore.put_async(
                client,
                path,
                value,
                mode=mode,
                attributes={TOKEN_FIELD: token},
                use_multipart=False,
            )

        try:
            await self.transport.run(
                self.names["put"],
                self.names["put"],
                self._where(key),
                attempt,
                attempts=attempts,
            )
        except (AlreadyExistsError, PreconditionError, NotFoundError) as exc:
            if isinstance(exc, NotFoundError) and self._bucket_missing(str(exc)):
                raise self._map_error(exc, key, self.names["put"]) from None
            return await self._resolve_refusal(key, token, attempts, create=mode == "create"), (
                attempts
            )
        except StoreError:
            raise
        except Exception as exc:
            raise self._map_error(exc, key, self.names["put"]) from None
        return True, attempts

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        applied, _ = await self._put_conditional(key, value, "create")
        return applied

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        applied, _ = await self._put_conditional(key, value, {"e_tag": version})
        return applied

    async def _delete(self, key: str) -> None:
        import obstore

        path = self._key(key)
        client = await self._client()
        try:
            await self.transport.run(
                self.names["delete"],
                self.names["delete"],
                self._where(key),
                lambda: obstore.delete_async(client, path),
            )
        except Exception as exc:
            if self._is_missing(exc):
                return
            if isinstance(exc, StoreError):
                raise
            raise self._map_error(exc, key, self.names["delete"]) from None

    async def _delete_many(self, keys: list[str], prefix: str) -> None:
        """Delete ``keys`` (full object names, at most one bulk request's worth)."""
        import obstore

        client = await self._client()
        await self._run("bulk_delete", prefix, lambda: obstore.delete_async(client, keys))

    async def _delete_dir(self, prefix: str) -> None:
        async for keys, _ in self._object_pages(prefix, delimiter=False):
            if keys:
                await self._delete_many([join_key(self._prefix, k) for k in keys], prefix)

    # --- listings --------------------------------------------------------------------------

    async def _object_pages(
        self, prefix: str, *, delimiter: bool
    ) -> AsyncIterator[tuple[list[str], list[str]]]:
        import obstore

        root = join_key(self._prefix, prefix)
        strip = len(self._prefix) + 1 if self._prefix else 0
        client = await self._client()
        kind = self.names["list"]
        where = self._where(prefix)
        if delimiter:
            result = await self._run(
                "list", prefix, lambda: obstore.list_with_delimiter_async(client, root or None)
            )
            keys = [m["path"][strip:] for m in result["objects"]]
            prefixes = [p[strip:] + "/" for p in result["common_prefixes"]]
            pages = max(1, math.ceil((len(keys) + len(prefixes)) / self.page_size))
            self.requests.record(kind, pages - 1)
            yield keys, prefixes
            return
        state: dict[str, Any] = {"stream": None, "after": None}

        async def attempt() -> list[Any]:
            if state["stream"] is None:
                state["stream"] = obstore.list(
                    client, root or None, offset=state["after"], chunk_size=self.page_size
                )
            try:
                return list(await state["stream"].__anext__())
            except StopAsyncIteration:
                return []
            except Exception:
                state["stream"] = None  # a broken stream is reopened after the last key seen
                raise

        yielded = False
        while True:
            try:
                chunk = await self.transport.run(kind, kind, where, attempt)
            except StoreError:
                raise
            except Exception as exc:
                raise self._map_error(exc, prefix, kind) from None
            if not chunk:
                if yielded:
                    # The stream ended without another request (the last page was full).
                    self.requests.record(kind, -1)
                return
            state["after"] = chunk[-1]["path"]
            yielded = True
            yield [m["path"][strip:] for m in chunk], []
            if len(chunk) < self.page_size:
                return
