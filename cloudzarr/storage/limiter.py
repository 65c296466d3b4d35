"""The per-store concurrency limiter.

zarr-python makes a new semaphore per call, so two concurrent ``members()`` calls, or a read of
many chunks while a listing runs, each get their own budget and together exceed it. cloudzarr
keeps one :class:`Limiter` per store, shared by every caller of that store.

An ``asyncio.Semaphore`` belongs to the event loop that first waits on it. A store can be used
from the sync API's background loop and from a user's own loop (a notebook, a test) in turn, so
the limiter keeps one semaphore per loop, all of the configured size. It also records how many
requests are in flight and the peak, which the tests and ``bench`` read.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from types import TracebackType

from cloudzarr.errors import InvalidArgumentError

DEFAULT_CONCURRENCY_ENV = "CLOUDZARR_CONCURRENCY"


def configured_concurrency(default: int, *, env: str = DEFAULT_CONCURRENCY_ENV) -> int:
    """Return the concurrency set in the environment variable ``env``, else ``default``."""
    raw = os.environ.get(env)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidArgumentError(f"environment variable {env}={raw!r}: must be an integer >= 1")
    return value


class Limiter:
    """An async context manager allowing at most ``size`` holders at once.

    Parameters
    ----------
    size
        The most requests allowed in flight at once.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"limiter size must be at least 1, got {size}")
        self._size = size
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()
        self.in_flight = 0
        self.peak_in_flight = 0

    @property
    def size(self) -> int:
        """The most requests allowed in flight at once."""
        return self._size

    def reset_peak(self) -> None:
        """Forget the recorded peak (the current in-flight count becomes the peak)."""
        self.peak_in_flight = self.in_flight

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = asyncio.Semaphore(self._size)
            self._semaphores[loop] = sem
        return sem

    async def __aenter__(self) -> None:
        await self._semaphore().acquire()
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._semaphore().release()

    def __repr__(self) -> str:
        return f"Limiter(size={self._size}, in_flight={self.in_flight})"
