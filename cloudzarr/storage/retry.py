"""A store wrapper that retries transient failures with exponential backoff and jitter.

Not needed for the S3, GCS and Azure stores: they retry every HTTP attempt in their request layer
(:mod:`cloudzarr.storage.transport`, configured by ``storage.retries`` and the backoff keys) and
raise a :class:`~cloudzarr.errors.TransientStoreError` only when that policy is exhausted, so
wrapping them in ``RetryStore`` multiplies the attempts (up to ``(retries + 1) ** 2``). It remains
for stores without their own policy (an fsspec filesystem, a test double such as
:class:`~cloudzarr.storage.faults.FaultStore`).

zarr-python has no retry layer; s3fs and gcsfs retry inside some calls only. ``RetryStore``
retries every operation that raised a :class:`~cloudzarr.errors.TransientStoreError` (timeout,
throttling, connection reset), waiting ``min(max_backoff, backoff * 2**attempt)`` scaled by a
random factor in ``[0.5, 1]`` ("equal jitter") between tries, so many clients throttled at once
do not come back in step. The defaults follow obstore's: 10 retries, 100 ms up to 15 s.
A listing page that failed is fetched again; if the backend's paging itself broke off, the
listing starts over and passes on only names it has not given yet.

Retries happen inside the slot the shared limiter granted to the request, so a retrying request
never lets more requests in flight than the limiter allows. A listing retries page by page.

``set_if_not_exists`` and lost responses
-----------------------------------------
A conditional create whose response was lost may have created the key. Its retry then answers
False ("it existed") although *this* caller created it. ``RetryStore`` resolves the ambiguity by
reading the key after such a retry: if it holds exactly the value this call wrote, the call
reports True. The cost is one GET, and only on the rare retry that returned False. The residual
ambiguity: a concurrent writer that created the key with byte-identical content wins in fact but
this caller is told True as well; with identical content no reader can tell the difference, and
the contract that matters (the key holds a value nobody overwrote) holds. Plain ``set`` and
``delete`` are idempotent and retried as they are; ``delete_dir`` is idempotent too.

``set_if_version`` and lost responses
--------------------------------------
A conditional replace whose response was lost may have been applied; its retry is then refused
(the version changed: we changed it) and would report False, and a caller acting on False
applies its change a second time. So a retry that returns False is checked by reading the key
(one GET, only then): holding exactly this call's value means it was applied (True). Holding
anything else is ambiguous -- never applied and someone else wrote, or applied and then
overwritten -- and raises :class:`~cloudzarr.errors.AmbiguousWriteError` rather than guess.
A conditional replace that failed on its first and only try (no retry) reports what the backend
said. ``get_with_version`` is a read and is retried as one.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from cloudzarr.errors import AmbiguousWriteError, ListingInterruptedError, TransientStoreError
from cloudzarr.storage.base import Store, Version
from cloudzarr.storage.wrapper import StoreWrapper

T = TypeVar("T")


class RetryStore(StoreWrapper):
    """Retry the transient failures of ``store``.

    Parameters
    ----------
    store
        The store whose requests to retry.
    retries
        The most retries of one request (so ``retries + 1`` tries in all).
    backoff
        The first wait in seconds; it doubles on each retry.
    max_backoff
        The longest wait in seconds.
    seed
        Seed of the jitter, for reproducible waits.
    read_only
        As for :class:`~cloudzarr.storage.wrapper.StoreWrapper`.

    Attributes
    ----------
    retry_counts
        How many retries each operation needed.
    given_up
        How many requests still failed after every retry, by operation.
    """

    def __init__(
        self,
        store: Store,
        retries: int = 10,
        backoff: float = 0.1,
        max_backoff: float = 15.0,
        seed: int | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be non-negative, got {retries}")
        if backoff < 0 or max_backoff < 0:
            raise ValueError(f"backoff must be non-negative, got {backoff}, {max_backoff}")
        super().__init__(store, read_only=read_only)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.seed = seed
        self._random = random.Random(seed)
        self.retry_counts: Counter[str] = Counter()
        self.given_up: Counter[str] = Counter()

    def _config(self) -> dict[str, Any]:
        return {
            "store": self._inner,
            "retries": self.retries,
            "backoff": self.backoff,
            "max_backoff": self.max_backoff,
            "seed": self.seed,
        }

    def _settings_repr(self) -> str:
        return f"retries={self.retries}, backoff={self.backoff:g}"

    @property
    def total_retries(self) -> int:
        """Retries of every operation since the store was made."""
        return sum(self.retry_counts.values())

    def wait_time(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (0 for the first retry), with jitter."""
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        return ceiling * self._random.uniform(0.5, 1.0)

    async def _call(
        self,
        operation: str,
        key: str,
        call: Callable[[], Awaitable[T]],
        *,
        nbytes_in: int = 0,
    ) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except TransientStoreError:
                if attempt >= self.retries:
                    self.given_up[operation] += 1
                    raise
            self.retry_counts[operation] += 1
            await asyncio.sleep(self.wait_time(attempt))
            attempt += 1

    async def _pages(self, operation: str, prefix: str) -> AsyncIterator[list[str]]:
        # A failed page is retried in _call. If the backend's own page generator failed, it
        # cannot resume: list again from the start and pass on only the names not yet given.
        seen: set[str] = set()
        restarts = 0
        while True:
            fetch, close = self._page_source(operation, prefix)
            try:
                while (page := await fetch()) is not None:
                    fresh = [name for name in page if name not in seen]
                    seen.update(fresh)
                    if fresh:
                        yield fresh
                return
            except ListingInterruptedError:
                if restarts >= self.retries:
                    self.given_up[operation] += 1
                    raise
                restarts += 1
                self.retry_counts[operation] += 1
            finally:
                await close()

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        retried = False

        async def create() -> bool:
            nonlocal retried
            try:
                return await self._inner._set_if_not_exists(key, value)
            except TransientStoreError:
                retried = True
                raise

        created = await self._call("set_if_not_exists", key, create, nbytes_in=len(value))
        if created or not retried:
            return created
        # A try that failed may have created the key before its response was lost.
        self._count("get")
        current = await self._call("get", key, lambda: self._inner._get(key, None))
        return current == value

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        retried = False

        async def replace() -> bool:
            nonlocal retried
            try:
                return await self._inner._set_if_version(key, value, version)
            except TransientStoreError:
                retried = True
                raise

        replaced = await self._call("set_if_version", key, replace, nbytes_in=len(value))
        if replaced or not retried:
            return replaced
        # A try that failed may have been applied before its response was lost.
        self._count("get")
        current = await self._call("get", key, lambda: self._inner._get(key, None))
        if current == value:
            return True
        raise AmbiguousWriteError(
            f"conditional write of {key!r} in {self._inner!r} failed transiently, was retried and "
            "refused, and the key holds another value: whether it was applied is unknown"
        )
