"""The store behind a top-level call: resolved from a store, URL or path, opened read-only for
mode ``"r"``, put behind a cache on request, and closed again if the call fails."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from cloudzarr.api.arguments import check_mode
from cloudzarr.storage.base import Store
from cloudzarr.storage.cache import with_cache
from cloudzarr.storage.url import open_store

__all__ = ["AccessMode", "StoreLike", "opened_store", "resolve_store"]

StoreLike = Store | str | os.PathLike[str]
AccessMode = Literal["r", "r+", "a", "w", "w-"]


def resolve_store(
    store: StoreLike,
    *,
    mode: str = "a",
    storage_options: Mapping[str, Any] | None = None,
    cache: Any = None,
) -> Store:
    """The store ``store`` names, as a read-only view for mode ``"r"``, behind a cache if
    ``cache`` asks for one (see :func:`cloudzarr.storage.cache.with_cache`).

    Raises
    ------
    InvalidArgumentError
        ``mode`` is not one of ``r``, ``r+``, ``a``, ``w``, ``w-``, or ``cache`` is invalid.
    """
    check_mode(mode)
    st = open_store(store, storage_options=storage_options, read_only=mode == "r")
    return with_cache(st, cache)


@contextlib.asynccontextmanager
async def opened_store(
    store: StoreLike,
    *,
    mode: str = "a",
    storage_options: Mapping[str, Any] | None = None,
    cache: Any = None,
) -> AsyncIterator[Store]:
    """:func:`resolve_store`, closing the store again if the body fails and the store was
    opened here from a URL or path (a store the caller passed in stays theirs).

    Without this, a failed ``open_group("s3://...")`` drops a store whose HTTP session is
    still open, and aiohttp prints "Unclosed client session" when it is collected.
    """
    st = resolve_store(store, mode=mode, storage_options=storage_options, cache=cache)
    try:
        yield st
    except Exception:
        if not isinstance(store, Store):
            with contextlib.suppress(Exception):
                await _close_when_idle(st)
        raise


async def _close_when_idle(store: Store, *, timeout: float = 10.0) -> None:
    """Close ``store`` once no request of it is in flight (at most ``timeout`` seconds).

    A failed call can leave sibling requests running (``asyncio.gather`` does not cancel the
    others when one fails); closing the session under them would fail them in turn, noisily.
    Nobody else holds this store, so its limiter counts only those requests.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while store.limiter.in_flight and loop.time() < deadline:
        await asyncio.sleep(0.005)
    await store.close()
