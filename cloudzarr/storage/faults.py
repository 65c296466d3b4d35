"""A store wrapper that fails requests the way a cloud does, at a seeded, reproducible rate.

The errors are the transient ones a real object store gives under load or over a bad network:
:class:`~cloudzarr.errors.StoreTimeoutError`, :class:`~cloudzarr.errors.ThrottledError` (S3's
503 SlowDown, GCS's 429) and :class:`~cloudzarr.errors.ConnectionResetStoreError`. Data is never
corrupted: a request either fails *before* it reaches the inner store (nothing happened), or, for
writes only and only if ``fail_after_write`` is set, *after* the inner write completed — the
request succeeded but its response was lost, which is what makes retrying writes subtle. Reads
and listings always fail before the request.

Which request fails is decided by a ``random.Random(seed)`` drawn once per request in the order
requests arrive, so one sequential workload with one seed fails at the same requests every run.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from cloudzarr.errors import (
    ConnectionResetStoreError,
    StoreTimeoutError,
    ThrottledError,
    TransientStoreError,
)
from cloudzarr.storage.base import Store
from cloudzarr.storage.wrapper import StoreWrapper

T = TypeVar("T")

#: The error kinds a FaultStore can raise, by name.
FAULT_KINDS: dict[str, type[TransientStoreError]] = {
    "timeout": StoreTimeoutError,
    "throttled": ThrottledError,
    "reset": ConnectionResetStoreError,
}

_WRITES = frozenset({"set", "set_if_not_exists", "set_if_version", "delete", "delete_dir"})


class FaultStore(StoreWrapper):
    """Raise transient errors on a seeded fraction of the requests to ``store``.

    Parameters
    ----------
    store
        The store to make unreliable.
    error_rate
        The probability in ``[0, 1]`` that a request fails.
    seed
        Seed of the draws; the same seed and request order fail the same requests.
    kinds
        Names from :data:`FAULT_KINDS` (``"timeout"``, ``"throttled"``, ``"reset"``) to choose
        the error from, uniformly; all three by default.
    fail_after_write
        The probability in ``[0, 1]`` that a failing *write* fails after the inner write was
        done (the response was lost) rather than before it. 0 by default: failed writes never
        happened.
    operations
        Only requests of these operations fail (all operations by default).
    read_only
        As for :class:`~cloudzarr.storage.wrapper.StoreWrapper`.

    Attributes
    ----------
    injected
        How many errors were raised, by exception class name.
    """

    def __init__(
        self,
        store: Store,
        error_rate: float = 0.1,
        seed: int | None = None,
        kinds: Sequence[str] = ("timeout", "throttled", "reset"),
        *,
        fail_after_write: float = 0.0,
        operations: Sequence[str] | None = None,
        read_only: bool = False,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {error_rate}")
        if not 0.0 <= fail_after_write <= 1.0:
            raise ValueError(f"fail_after_write must be in [0, 1], got {fail_after_write}")
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(
                f"unknown fault kinds {unknown}; expected some of {', '.join(FAULT_KINDS)}"
            )
        super().__init__(store, read_only=read_only)
        self.error_rate = float(error_rate)
        self.seed = seed
        self.kinds = tuple(kinds)
        self.fail_after_write = float(fail_after_write)
        self.operations = None if operations is None else tuple(operations)
        self.injected: Counter[str] = Counter()
        self._random = random.Random(seed)

    def _config(self) -> dict[str, Any]:
        return {
            "store": self._inner,
            "error_rate": self.error_rate,
            "seed": self.seed,
            "kinds": self.kinds,
            "fail_after_write": self.fail_after_write,
            "operations": self.operations,
        }

    def _settings_repr(self) -> str:
        return f"error_rate={self.error_rate:g}, seed={self.seed!r}"

    def _draw(self, operation: str) -> tuple[type[TransientStoreError] | None, bool]:
        """Decide one request's fate: the error to raise (or None) and whether after the write."""
        # Draw all three numbers every time so one request's fate never shifts the next one's.
        fails = self._random.random() < self.error_rate
        kind = self.kinds[self._random.randrange(len(self.kinds))]
        after = self._random.random() < self.fail_after_write
        if not fails or (self.operations is not None and operation not in self.operations):
            return None, False
        return FAULT_KINDS[kind], after and operation in _WRITES

    async def _call(
        self,
        operation: str,
        key: str,
        call: Callable[[], Awaitable[T]],
        *,
        nbytes_in: int = 0,
    ) -> T:
        error, after = self._draw(operation)
        if error is None:
            return await call()
        if after:
            await call()
            when = "after the write (response lost)"
        else:
            when = "before the request"
        self.injected[error.__name__] += 1
        raise error(f"injected {error.__name__} on {operation} of {key!r}, {when}")
