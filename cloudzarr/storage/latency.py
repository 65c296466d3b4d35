"""A store wrapper that makes every request slower, to model an object store over a network.

The delay is added inside the shared limiter, after the inner request returns, so it holds the
request's slot the way a slow backend does: at concurrency ``c`` and latency ``L`` a store
serves at most ``c / L`` requests a second. Every listing page is delayed (one page is one
request); the end of a listing, which sends nothing, is not.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cloudzarr.storage.base import Store
from cloudzarr.storage.wrapper import StoreWrapper

T = TypeVar("T")

#: A function of a ``random.Random`` returning one delay in seconds.
Distribution = Callable[[random.Random], float]


class LatencyStore(StoreWrapper):
    """Add a delay to every request of ``store``.

    Parameters
    ----------
    store
        The store to slow down.
    latency
        Seconds added to every request.
    jitter
        Up to this many seconds more, drawn uniformly per request.
    distribution
        Instead of ``latency`` and ``jitter``: a function drawing each delay (in seconds) from the
        given ``random.Random``, e.g. ``lambda r: r.lognormvariate(-4, 0.5)``. Negative draws
        count as zero.
    seed
        Seed of the random draws, for reproducible delays.
    read_only
        As for :class:`~cloudzarr.storage.wrapper.StoreWrapper`.
    """

    def __init__(
        self,
        store: Store,
        latency: float = 0.02,
        jitter: float = 0.0,
        distribution: Distribution | None = None,
        seed: int | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        if latency < 0:
            raise ValueError(f"latency must be non-negative, got {latency}")
        if jitter < 0:
            raise ValueError(f"jitter must be non-negative, got {jitter}")
        super().__init__(store, read_only=read_only)
        self.latency = float(latency)
        self.jitter = float(jitter)
        self.distribution = distribution
        self.seed = seed
        self._random = random.Random(seed)

    def _config(self) -> dict[str, Any]:
        return {
            "store": self._inner,
            "latency": self.latency,
            "jitter": self.jitter,
            "distribution": self.distribution,
            "seed": self.seed,
        }

    def _settings_repr(self) -> str:
        if self.distribution is not None:
            return f"distribution={self.distribution!r}"
        text = f"latency={self.latency:g}"
        return text + (f", jitter={self.jitter:g}" if self.jitter else "")

    def delay(self) -> float:
        """Draw the delay of one request, in seconds."""
        if self.distribution is not None:
            return max(0.0, float(self.distribution(self._random)))
        if self.jitter:
            return self.latency + self._random.uniform(0.0, self.jitter)
        return self.latency

    async def _call(
        self,
        operation: str,
        key: str,
        call: Callable[[], Awaitable[T]],
        *,
        nbytes_in: int = 0,
    ) -> T:
        result = await call()
        if result is None and operation.startswith("list"):
            return result
        delay = self.delay()
        if delay > 0:
            await asyncio.sleep(delay)
        return result
