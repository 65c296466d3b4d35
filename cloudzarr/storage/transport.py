"""The request layer the cloud stores share: timeouts, the one retry policy, accounting, clients.

Every HTTP request of :class:`~cloudzarr.storage.s3.S3Store`,
:class:`~cloudzarr.storage.gcs.GCSStore` and :class:`~cloudzarr.storage.azure.AzureStore` goes
through :meth:`Transport.run`, which

- counts the attempt in ``store.requests`` under the cloud's operation name (one per HTTP
  attempt, retries included, so tests can assert what went over the wire);
- bounds the attempt by the request timeout (body included: a body that stops arriving times
  out) and the whole operation by the operation timeout;
- asks the cloud to classify a failure (:meth:`Transport.classify`): a reset, a timeout, a
  truncated body, a 5xx, a 429 or a 503 is transient and retried with jittered exponential
  backoff (``min(backoff_max, backoff_min * 2**n)`` times a random factor in ``[0.5, 1]``), at
  most ``retries`` times; anything else is the cloud's own error and raised at once;
- reports throttling answers and successes to the store's adaptive limiter;
- raises, when the retries or the operation's time run out, a
  :class:`~cloudzarr.errors.TransientStoreError` subclass naming operation, key and attempts
  (:class:`~cloudzarr.errors.ThrottledError`, :class:`~cloudzarr.errors.StoreTimeoutError`,
  :class:`~cloudzarr.errors.ConnectionResetStoreError`).

The clients below (obstore, aiohttp) are built with their own retries turned off, so this is the
only retry policy: an operation costs at most ``retries + 1`` attempts, never a product of layers.

Clients are shared: :func:`shared_client` keeps one per store configuration per process, so
every store object built from one configuration (copies, unpickled stores on dask workers) uses
the same connection pool; they are dropped at interpreter exit before the runtime shuts down.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cloudzarr.config import config
from cloudzarr.errors import (
    ConnectionResetStoreError,
    InvalidArgumentError,
    StoreTimeoutError,
    ThrottledError,
    TransientStoreError,
)
from cloudzarr.storage.histogram import LatencyHistogram

if TYPE_CHECKING:
    from cloudzarr.storage.base import Store

#: The kinds of transient failure; anything else is permanent.
Transient = Literal["timeout", "throttled", "reset", "server"]

_EXHAUSTED: dict[str, type[TransientStoreError]] = {
    "timeout": StoreTimeoutError,
    "throttled": ThrottledError,
    "reset": ConnectionResetStoreError,
    "server": TransientStoreError,
}


@dataclass(frozen=True)
class Timeouts:
    """The time bounds and retry policy of one store, read from :data:`cloudzarr.config.config`.

    Parameters
    ----------
    connect
        Seconds to open a connection.
    request
        Seconds for one attempt, from sending to the last byte of the body.
    operation
        Seconds for one operation, retries and backoff included.
    retries
        The most retries of one request (``retries + 1`` attempts in all).
    backoff_min, backoff_max
        The first and the longest wait between attempts.
    """

    connect: float
    request: float
    operation: float
    retries: int
    backoff_min: float
    backoff_max: float

    @classmethod
    def resolve(cls, connect: float | None = None, request: float | None = None) -> Timeouts:
        """The configured values, with ``connect`` and ``request`` given by the caller first."""
        for name, value in (("connect_timeout", connect), ("request_timeout", request)):
            if value is not None and not value > 0:
                raise InvalidArgumentError(f"{name} must be a positive number, got {value!r}")
        return cls(
            connect=float(
                connect if connect is not None else config.get("storage.connect_timeout")
            ),
            request=float(
                request if request is not None else config.get("storage.request_timeout")
            ),
            operation=float(config.get("storage.operation_timeout")),
            retries=int(config.get("storage.retries")),
            backoff_min=float(config.get("storage.backoff_min")),
            backoff_max=float(config.get("storage.backoff_max")),
        )

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0-based), with equal jitter."""
        ceiling = min(self.backoff_max, self.backoff_min * (2.0**retry))
        return ceiling * (0.5 + random.random() / 2)


class Attempts:
    """What :meth:`Transport.run` did for one conditional write.

    ``count`` is the attempts made; ``maybe_applied`` is True when an earlier attempt failed
    in a way that may have reached the service (a timeout, a reset, a 5xx other than 503), so
    a refusal of a later attempt may be the answer to our own earlier write.
    """

    __slots__ = ("count", "maybe_applied")

    def __init__(self) -> None:
        self.count = 0
        self.maybe_applied = False


class Hedging:
    """Budgeted hedged reads: a GET unanswered after the p95 of recent GETs is sent once more.

    Parameters
    ----------
    budget
        The most extra requests, as a fraction of GETs (0.05: 5 %).
    min_samples
        GETs to observe before the first hedge (the p95 needs a history).
    """

    def __init__(self, budget: float = 0.05, min_samples: int = 50) -> None:
        self.budget = budget
        self.min_samples = min_samples
        self.latency = LatencyHistogram()
        self.gets = 0
        self.hedges = 0
        self.hedge_wins = 0
        self._delay: float | None = None

    def delay(self) -> float | None:
        """Seconds to wait before hedging this GET, or None to send it once only."""
        self.gets += 1
        if self.latency.count < self.min_samples or self.hedges + 1 > self.budget * self.gets:
            return None
        if self._delay is None or self.latency.count % 32 == 0:
            self._delay = self.latency.quantile(0.95)
        return self._delay

    def take(self) -> bool:
        """Spend one hedge of the budget, if any is left. Checked again when the hedge is due,
        with no wait between check and count: concurrent GETs cannot overdraw it."""
        if self.hedges + 1 > self.budget * self.gets:
            return False
        self.hedges += 1
        return True

    def observe(self, seconds: float) -> None:
        """Record the latency of one answered GET attempt."""
        self.latency.add(seconds)
        if self.latency.count % 32 == 0:
            self._delay = None


class Transport:
    """The retry, timeout and accounting policy for one store; the cloud subclasses classify.

    Parameters
    ----------
    store
        The store whose ``requests`` and ``limiter`` this transport feeds.
    timeouts
        The time bounds and retries.
    cloud
        The cloud's name, for messages.
    """

    def __init__(self, store: Store, timeouts: Timeouts, cloud: str) -> None:
        self.store = store
        self.timeouts = timeouts
        self.cloud = cloud

    def classify(self, exc: BaseException) -> Transient | None:
        """The kind of transient failure ``exc`` is, or None if retrying cannot help."""
        if isinstance(exc, TimeoutError):
            return "timeout"
        if isinstance(exc, ConnectionError | EOFError):
            return "reset"
        return None

    async def run[T](
        self,
        kind: str,
        operation: str,
        where: str,
        attempt: Callable[[], Awaitable[T]],
        *,
        attempts: Attempts | None = None,
        hedging: Hedging | None = None,
    ) -> T:
        """Run ``attempt`` under the policy; ``kind`` is the name counted per HTTP attempt.

        Parameters
        ----------
        kind
            The name each attempt is counted under in ``store.requests``.
        operation, where
            The operation and the object's URL, for messages.
        attempt
            Sends one request and reads its answer; raises the client's error on failure.
        attempts
            Receives how many attempts were made (conditional writes resolve a resend).
        hedging
            Hedge this (idempotent) read; None sends each attempt once.
        """
        timeouts = self.timeouts
        limiter = self.store.limiter
        start = time.monotonic()
        deadline = start + timeouts.operation
        tries = 0
        while True:
            tries += 1
            if attempts is not None:
                attempts.count = tries
            epoch = limiter.epoch
            try:
                if hedging is not None:
                    result = await self._hedged(kind, attempt, hedging, deadline)
                else:
                    self.store.requests.record(kind)
                    async with asyncio.timeout(min(timeouts.request, deadline - time.monotonic())):
                        result = await attempt()
            except Exception as exc:
                failure = self.classify(exc)
                if failure is None:
                    raise
                if failure == "throttled":
                    limiter.throttled(epoch)
                elif attempts is not None:
                    attempts.maybe_applied = True
                wait = timeouts.backoff(tries - 1)
                if tries > timeouts.retries or time.monotonic() + wait >= deadline:
                    raise self._exhausted(failure, operation, where, tries, exc) from None
                # Back off without the slot, then resend under the current (maybe cut) limit:
                # the limiter gates attempts, so a throttled service sees the new limit at once.
                await self._backoff(wait)
                continue
            limiter.succeeded()
            return result

    async def _backoff(self, wait: float) -> None:
        """Sleep ``wait`` seconds outside the caller's limiter slot, then take a slot again."""
        limiter = self.store.limiter
        if limiter.in_flight <= 0:  # not called under the store's limiter (a direct call)
            await asyncio.sleep(wait)
            return
        limiter.release()
        try:
            await asyncio.sleep(wait)
            await limiter.acquire()
        except BaseException:
            limiter.retake()  # the caller's slot is released by its own exit
            raise

    async def _hedged[T](
        self,
        kind: str,
        attempt: Callable[[], Awaitable[T]],
        hedging: Hedging,
        deadline: float,
    ) -> T:
        """One attempt, sent a second time if the first is slower than the recent p95."""
        delay = hedging.delay()
        remaining = min(self.timeouts.request, deadline - time.monotonic())

        async def timed() -> T:
            began = time.monotonic()
            async with asyncio.timeout(remaining):
                result = await attempt()
            hedging.observe(time.monotonic() - began)
            return result

        self.store.requests.record(kind)
        first: asyncio.Future[T] = asyncio.ensure_future(timed())
        if delay is None:
            return await first
        done, _ = await asyncio.wait({first}, timeout=delay)
        if done or not hedging.take():
            return await first
        self.store.requests.record(kind)
        second: asyncio.Future[T] = asyncio.ensure_future(timed())
        pending: set[asyncio.Future[T]] = {first, second}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None:
                        if task is second:
                            hedging.hedge_wins += 1
                        return task.result()
                if not pending:
                    # Both failed: the first's error goes to the policy.
                    return first.result()
            raise AssertionError("unreachable")
        finally:
            for task in (first, second):
                if not task.done():
                    task.cancel()

    def _exhausted(
        self, failure: Transient, operation: str, where: str, tries: int, exc: BaseException
    ) -> TransientStoreError:
        reason = {
            "timeout": "timed out",
            "throttled": "was throttled",
            "reset": "lost its connection",
            "server": "got server errors",
        }[failure]
        detail = _safe_detail(exc)
        return _EXHAUSTED[failure](
            f"{self.cloud} {operation} {where} {reason} on all {tries} attempts "
            f"(retries={self.timeouts.retries}, operation_timeout={self.timeouts.operation:g} s)"
            + (f": {detail}" if detail else "")
        )


def _safe_detail(exc: BaseException) -> str:
    """A short description of ``exc``: its type, and an HTTP status if it carries one."""
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if isinstance(status, int) else "")


# --- shared clients ------------------------------------------------------------------------

_CLIENTS: dict[Hashable, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def configuration_key(*parts: Any) -> str:
    """A hashable key of a store configuration (options may hold dicts and lists)."""
    return json.dumps(parts, sort_keys=True, default=repr)


def shared_client[T](key: Hashable, factory: Callable[[], T]) -> T:
    """The process's one client for configuration ``key``, made by ``factory`` the first time."""
    client = _CLIENTS.get(key)
    if client is None:
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                client = _CLIENTS[key] = factory()
    return client


def existing_client(key: Hashable) -> Any:
    """The shared client for ``key`` if one was made, else None."""
    return _CLIENTS.get(key)


def client_count() -> int:
    """How many shared clients this process holds (one per store configuration in use)."""
    return len(_CLIENTS)


def _drop_clients() -> None:
    """Drop every shared client while the interpreter can still run their destructors.

    obstore's clients own threads of a Rust runtime; freed during interpreter finalisation they
    were seen aborting the process. Dropping them in an atexit hook frees them in order first.
    """
    with _CLIENTS_LOCK:
        _CLIENTS.clear()
    gc.collect()


atexit.register(_drop_clients)
