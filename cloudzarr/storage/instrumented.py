"""A store wrapper that measures every request: counts, bytes, errors and latency percentiles.

Latency is timed around the inner store's hook, after the shared limiter granted a slot, so it is
the request's own latency, not time spent queueing behind other requests. A listing is timed page
by page: one page is one request. Each operation keeps a
:class:`~cloudzarr.storage.histogram.LatencyHistogram`, so memory stays small however many
requests are measured.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from cloudzarr.storage.base import Store
from cloudzarr.storage.histogram import LatencyHistogram
from cloudzarr.storage.wrapper import StoreWrapper

T = TypeVar("T")

#: The operations measured, in the order reports list them.
OPERATIONS = (
    "get",
    "set",
    "set_if_not_exists",
    "get_with_version",
    "set_if_version",
    "exists",
    "getsize",
    "delete",
    "delete_dir",
    "list",
    "list_prefix",
    "list_dir",
)


@dataclass(frozen=True)
class OperationStats:
    """What one operation did since the last reset. Latencies are in seconds.

    ``count`` includes failed requests; ``errors`` maps an exception class name to how many
    requests raised it. ``bytes_in`` is what was sent (values written), ``bytes_out`` what came
    back (values read). Percentiles are NaN when nothing was measured.
    """

    operation: str
    count: int
    errors: dict[str, int]
    bytes_in: int
    bytes_out: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float
    total_time: float

    @property
    def error_count(self) -> int:
        """How many requests failed."""
        return sum(self.errors.values())


@dataclass(frozen=True)
class StoreStats:
    """Every operation's :class:`OperationStats`, and the most requests seen in flight at once."""

    operations: dict[str, OperationStats]
    peak_in_flight: int

    def __getitem__(self, operation: str) -> OperationStats:
        return self.operations[operation]

    @property
    def total_requests(self) -> int:
        """Requests of every operation, failed ones included."""
        return sum(s.count for s in self.operations.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data (dicts, numbers, strings) for JSON."""
        return {
            "operations": {name: asdict(s) for name, s in self.operations.items()},
            "peak_in_flight": self.peak_in_flight,
        }


@dataclass
class _Recorder:
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    errors: Counter[str] = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_out: int = 0

    def stats(self, operation: str) -> OperationStats:
        h = self.histogram
        p50, p90, p99 = h.percentiles(0.5, 0.9, 0.99)
        return OperationStats(
            operation=operation,
            count=h.count,
            errors=dict(self.errors),
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            p50=p50,
            p90=p90,
            p99=p99,
            max=h.max if h.count else math.nan,
            mean=h.mean,
            total_time=h.total,
        )


class _Metrics:
    """The mutable state behind an InstrumentedStore; shared by its read-only views."""

    def __init__(self) -> None:
        self.recorders = {op: _Recorder() for op in OPERATIONS}
        self.in_flight = 0
        self.peak_in_flight = 0

    def reset(self) -> None:
        self.recorders = {op: _Recorder() for op in OPERATIONS}
        self.peak_in_flight = self.in_flight


class InstrumentedStore(StoreWrapper):
    """Measure every request sent through ``store``.

    Parameters
    ----------
    store
        The store to measure.
    read_only
        As for :class:`~cloudzarr.storage.wrapper.StoreWrapper`.

    Examples
    --------
    >>> from cloudzarr.storage import InstrumentedStore, MemoryStore
    >>> from cloudzarr.sync import sync
    >>> store = InstrumentedStore(MemoryStore())
    >>> sync(store.set("a", b"xyz"))
    >>> store.stats()["set"].bytes_in
    3
    """

    def __init__(self, store: Store, *, read_only: bool = False) -> None:
        super().__init__(store, read_only=read_only)
        self._metrics = _Metrics()

    async def _call(
        self,
        operation: str,
        key: str,
        call: Callable[[], Awaitable[T]],
        *,
        nbytes_in: int = 0,
    ) -> T:
        metrics = self._metrics
        recorder = metrics.recorders[operation]
        metrics.in_flight += 1
        metrics.peak_in_flight = max(metrics.peak_in_flight, metrics.in_flight)
        start = time.perf_counter()
        try:
            result = await call()
        except BaseException as exc:
            elapsed = time.perf_counter() - start
            metrics.in_flight -= 1
            # A cancelled request is not the backend's error: do not count it as one.
            if isinstance(exc, Exception):
                recorder.histogram.add(elapsed)
                recorder.errors[type(exc).__name__] += 1
                recorder.bytes_in += nbytes_in
            raise
        elapsed = time.perf_counter() - start
        metrics.in_flight -= 1
        if result is None and operation.startswith("list"):
            # The end of a listing: no request was made.
            return result
        recorder.histogram.add(elapsed)
        recorder.bytes_in += nbytes_in
        if isinstance(result, bytes):
            recorder.bytes_out += len(result)
        elif operation == "get_with_version" and isinstance(result, tuple):
            recorder.bytes_out += len(result[0])
        return result

    # --- reading the measurements ----------------------------------------------------------

    def stats(self) -> StoreStats:
        """A snapshot of every operation's measurements since the last :meth:`reset`."""
        metrics = self._metrics
        return StoreStats(
            operations={op: r.stats(op) for op, r in metrics.recorders.items()},
            peak_in_flight=metrics.peak_in_flight,
        )

    def histogram(self, operation: str) -> LatencyHistogram:
        """The live latency histogram of ``operation`` (one of :data:`OPERATIONS`)."""
        try:
            return self._metrics.recorders[operation].histogram
        except KeyError:
            raise ValueError(
                f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}"
            ) from None

    def reset(self) -> None:
        """Forget every measurement (requests in flight are still counted when they finish)."""
        self._metrics.reset()

    def report(self, *, all_operations: bool = False) -> str:
        """A plain-text table of the measurements (operations never used are left out)."""
        return format_report(self.stats(), all_operations=all_operations)


def format_report(stats: StoreStats, *, all_operations: bool = False) -> str:
    """Render :class:`StoreStats` as an aligned text table, latencies in milliseconds."""
    header = ("operation", "count", "errors", "bytes in", "bytes out", "p50", "p90", "p99", "max")
    rows: list[tuple[str, ...]] = [header]
    for name, s in stats.operations.items():
        if not s.count and not all_operations:
            continue
        rows.append(
            (
                name,
                str(s.count),
                _errors_text(s.errors),
                _bytes_text(s.bytes_in),
                _bytes_text(s.bytes_out),
                *(_ms(v) for v in (s.p50, s.p90, s.p99, s.max)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"latency in ms; peak in flight: {stats.peak_in_flight}")
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1e3:.2f}"


def _errors_text(errors: dict[str, int]) -> str:
    if not errors:
        return "0"
    return ", ".join(f"{kind}={n}" for kind, n in sorted(errors.items()))


def _bytes_text(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
