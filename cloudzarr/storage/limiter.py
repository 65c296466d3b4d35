"""The per-store concurrency limiter, adaptive under throttling.

zarr-python makes a new semaphore per call, so two concurrent ``members()`` calls, or a read of
many chunks while a listing runs, each get their own budget and together exceed it. cloudzarr
keeps one :class:`Limiter` per store, shared by every caller of that store.

The limiter admits at most :attr:`Limiter.limit` holders at once. ``limit`` starts at the
configured ``size`` and adapts the way TCP's congestion window does (additive increase,
multiplicative decrease): the request layer reports a throttling answer (S3 503 SlowDown, GCS
429...) with :meth:`Limiter.throttled`, which halves the limit, and each success with
:meth:`Limiter.succeeded`, which adds one slot per ``limit`` successes, up to ``size``. A burst
of throttling answers to requests that were all sent under the old limit halves it once, not
once per answer, so a throttled bucket converges instead of collapsing to one request.

The limiter gates HTTP attempts, not only operations: the request layer gives an operation's
slot back while it backs off before a retry and waits for one under the current limit before
resending (:meth:`Limiter.release`, :meth:`Limiter.acquire`), so after a cut the service sees at
most the new limit in flight, resends included.

Waiters are held per event loop (a store can be used from the sync API's background loop and
from a user's own loop in turn); the limit and counts are shared.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
import time
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
    """An async context manager allowing at most :attr:`limit` holders at once.

    Parameters
    ----------
    size
        The most requests allowed in flight at once (the ceiling of the adaptive limit).
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"limiter size must be at least 1, got {size}")
        self._size = size
        self._window = float(size)
        self._lock = threading.Lock()
        self._waiters: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, collections.deque[asyncio.Future[None]]
        ] = weakref.WeakKeyDictionary()
        #: Requests sent since the last decrease count as "sent under the old limit".
        self._epoch = 0
        self._decreased_at = 0.0
        self.in_flight = 0
        self.peak_in_flight = 0
        #: How many times the limit was cut by throttling.
        self.decreases = 0

    @property
    def size(self) -> int:
        """The most requests ever allowed in flight at once (the configured concurrency)."""
        return self._size

    @property
    def limit(self) -> int:
        """The requests allowed in flight now (``size`` unless throttling cut it)."""
        return max(1, int(self._window))

    @property
    def epoch(self) -> int:
        """A number that changes at each decrease; pass it back to :meth:`throttled`."""
        return self._epoch

    def throttled(self, epoch: int | None = None) -> None:
        """Halve the limit after a throttling answer to a request sent in ``epoch``.

        Answers to requests sent before the last decrease do not cut it again.
        """
        with self._lock:
            if epoch is not None and epoch != self._epoch:
                return
            self._window = max(1.0, self._window / 2)
            self._epoch += 1
            self._decreased_at = time.monotonic()
            self.decreases += 1

    def succeeded(self) -> None:
        """Grow the limit by one slot per ``limit`` successes, up to ``size``."""
        if self._window >= self._size:
            return
        with self._lock:
            self._window = min(float(self._size), self._window + 1.0 / self._window)
        self._wake()

    def reset_peak(self) -> None:
        """Forget the recorded peak (the current in-flight count becomes the peak)."""
        self.peak_in_flight = self.in_flight

    def _queue(self) -> collections.deque[asyncio.Future[None]]:
        loop = asyncio.get_running_loop()
        queue = self._waiters.get(loop)
        if queue is None:
            queue = self._waiters[loop] = collections.deque()
        return queue

    async def __aenter__(self) -> None:
        await self.acquire()

    async def acquire(self) -> None:
        """Wait for a slot under the current limit and take it."""
        queue = self._queue()
        while self.in_flight >= self.limit or (queue and not queue[0].done()):
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue.append(future)
            try:
                await future
            except BaseException:
                if future in queue:
                    queue.remove(future)
                # A wake-up handed to a cancelled waiter goes to the next one.
                self._wake()
                raise
            if future in queue:
                queue.remove(future)
            if self.in_flight < self.limit:
                break
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Give a slot back and wake waiters for the free slots."""
        self.in_flight -= 1
        self._wake()

    def retake(self) -> None:
        """Take a slot back without waiting (an interrupted retry balancing its release)."""
        self.in_flight += 1

    def _wake(self) -> None:
        """Wake as many waiters as there are free slots (on whichever loops they wait)."""
        free = self.limit - self.in_flight
        for loop, queue in list(self._waiters.items()):
            for future in list(queue):
                if free <= 0:
                    return
                if future.done():
                    continue
                queue.remove(future)
                free -= 1
                if loop.is_closed():
                    continue
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is loop:
                    future.set_result(None)
                else:
                    loop.call_soon_threadsafe(_resolve, future)

    def __repr__(self) -> str:
        return f"Limiter(size={self._size}, limit={self.limit}, in_flight={self.in_flight})"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
