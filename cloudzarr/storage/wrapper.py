"""The base class of stores that wrap another store: measuring, slowing, failing, retrying.

A wrapper is a :class:`~cloudzarr.storage.base.Store` in its own right, so wrappers compose with
each other and with everything that takes a store. It does not own a limiter: it shares the inner
store's, so ``InstrumentedStore(LatencyStore(s3))`` still sends at most ``s3.limiter.size``
requests at once, and its requests land in the inner store's ``requests`` counter.

The public methods of :class:`Store` already took a slot of that shared limiter before calling a
hook, so a wrapper's hooks call the inner store's *hooks* (``inner._get``), never its public
methods, which would take a second slot of the same limiter and could deadlock a small one.

Every hook goes through :meth:`StoreWrapper._call` and every listing page through it too, which
is the one place a subclass adds its behaviour. Listing hooks cannot tell ``list()`` from
``list_prefix("")`` (they are one request), so both are reported as ``"list"``.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self, TypeVar

from cloudzarr.errors import ListingInterruptedError
from cloudzarr.storage.base import ReadBuffer, Store, Version
from cloudzarr.storage.byte_range import ByteRequest

T = TypeVar("T")

#: Backend capability flags a wrapper takes from the store it wraps.
_CAPABILITIES = (
    "supports_atomic_create",
    "supports_suffix_ranges",
    "supports_bulk_delete",
    "supports_compare_and_swap",
    "counts_requests_per_operation",
)


class StoreWrapper(Store):
    """A store that forwards every operation to ``store``.

    Parameters
    ----------
    store
        The store to wrap. Its limiter and request counter are shared, not copied.
    read_only
        Refuse writes through this wrapper. A wrapper of a read-only store is always read-only.

    Notes
    -----
    Subclasses override :meth:`_call` (and, if they hold settings, :meth:`_config`, whose keys
    must be constructor keyword arguments). Equality and pickling go by the inner store and the
    wrapper's own configuration.
    """

    def __init__(self, store: Store, *, read_only: bool = False) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"{type(self).__name__} wraps a Store, got {type(store).__name__}")
        # The base initializer would make a limiter of our own; sharing the inner one is the point.
        self._inner = store
        self._read_only = bool(read_only) or store.read_only
        self._concurrency_arg = None
        self._limiter = store.limiter
        self.requests = store.requests
        for name in _CAPABILITIES:
            setattr(self, name, getattr(store, name))

    # --- configuration ---------------------------------------------------------------------

    @property
    def inner(self) -> Store:
        """The wrapped store."""
        return self._inner

    def _config(self) -> dict[str, Any]:
        return {"store": self._inner}

    def _full_config(self) -> dict[str, Any]:
        # No "concurrency": a wrapper has no limiter of its own to configure.
        return {**self._config(), "read_only": self._read_only}

    def with_read_only(self, read_only: bool = True) -> Self:
        """A view sharing this wrapper's state, read-only if asked or if the inner store is."""
        view = copy.copy(self)
        view._read_only = bool(read_only) or self._inner.read_only
        return view

    def _settings_repr(self) -> str:
        """Extra ``name=value`` text for :meth:`__repr__`; empty by default."""
        return ""

    def __repr__(self) -> str:
        extra = self._settings_repr()
        ro = ", read_only=True" if self._read_only and not self._inner.read_only else ""
        return f"{type(self).__name__}({self._inner!r}{', ' + extra if extra else ''}{ro})"

    async def close(self) -> None:
        """Close the inner store."""
        await self._inner.close()

    # --- the interception point ------------------------------------------------------------

    async def _call(
        self,
        operation: str,
        key: str,
        call: Callable[[], Awaitable[T]],
        *,
        nbytes_in: int = 0,
    ) -> T:
        """Run one request of ``operation`` on ``key``; subclasses wrap behaviour around it.

        Parameters
        ----------
        operation
            The public operation's name (``"get"``, ``"list_dir"``...).
        key
            The key, or for listings and ``delete_dir`` the normalized prefix.
        call
            Performs the request on the inner store when awaited. For a listing page it returns
            the page, or None when the listing has ended (no request was made then).
        nbytes_in
            The bytes this request sends (the value of a write).
        """
        return await call()

    # --- hooks, forwarded ------------------------------------------------------------------

    async def _get(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        return await self._call("get", key, lambda: self._inner._get(key, byte_range))

    async def _get_buffer(self, key: str, byte_range: ByteRequest | None) -> ReadBuffer | None:
        return await self._call("get", key, lambda: self._inner._get_buffer(key, byte_range))

    async def _get_with_version(self, key: str) -> tuple[bytes, Version] | None:
        return await self._call("get_with_version", key, lambda: self._inner._get_with_version(key))

    async def _exists(self, key: str) -> bool:
        return await self._call("exists", key, lambda: self._inner._exists(key))

    async def _getsize(self, key: str) -> int:
        return await self._call("getsize", key, lambda: self._inner._getsize(key))

    async def _set(self, key: str, value: bytes) -> None:
        await self._call("set", key, lambda: self._inner._set(key, value), nbytes_in=len(value))

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        return await self._call(
            "set_if_not_exists",
            key,
            lambda: self._inner._set_if_not_exists(key, value),
            nbytes_in=len(value),
        )

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        return await self._call(
            "set_if_version",
            key,
            lambda: self._inner._set_if_version(key, value, version),
            nbytes_in=len(value),
        )

    async def _delete(self, key: str) -> None:
        await self._call("delete", key, lambda: self._inner._delete(key))

    async def _delete_dir(self, prefix: str) -> None:
        await self._call("delete_dir", prefix, lambda: self._inner._delete_dir(prefix))

    def _list_prefix_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        return self._pages("list_prefix" if prefix else "list", prefix)

    def _list_dir_pages(self, prefix: str) -> AsyncIterator[list[str]]:
        return self._pages("list_dir", prefix)

    async def _pages(self, operation: str, prefix: str) -> AsyncIterator[list[str]]:
        fetch, close = self._page_source(operation, prefix)
        try:
            while (page := await fetch()) is not None:
                yield page
        finally:
            await close()

    def _page_source(self, operation: str, prefix: str) -> tuple[PageFetch, PageClose]:
        """A coroutine function fetching the next page through every layer, and a closer.

        The layers are composed as plain calls rather than nested generators: an exception
        raised in a generator ends it, so a failed page could not be fetched again.
        """
        inner = self._inner
        if isinstance(inner, StoreWrapper):
            fetch_inner, close = inner._page_source(operation, prefix)
        else:
            hook = inner._list_dir_pages if operation == "list_dir" else inner._list_prefix_pages
            fetch_inner, close = _backend_pages(hook(prefix), prefix)

        async def fetch() -> list[str] | None:
            return await self._call(operation, prefix, fetch_inner)

        return fetch, close


PageFetch = Callable[[], Awaitable[list[str] | None]]
PageClose = Callable[[], Awaitable[None]]


def _backend_pages(pages: AsyncIterator[list[str]], prefix: str) -> tuple[PageFetch, PageClose]:
    broken: list[BaseException] = []

    async def fetch() -> list[str] | None:
        if broken:
            # The backend's generator ended with the error; resuming would silently truncate.
            raise ListingInterruptedError(
                f"the listing of {prefix!r} broke off after a failed page and cannot resume; "
                "list again"
            ) from broken[0]
        try:
            return await anext(pages)
        except StopAsyncIteration:
            return None
        except BaseException as exc:
            broken.append(exc)
            raise

    async def close() -> None:
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            await aclose()

    return fetch, close
