"""``cloudzarr bench``: request latency and throughput of any store, op by op.

For each operation x object size x concurrency, ``c`` workers send requests until ``requests``
were sent (or ``duration`` seconds passed). Latency is timed by an
:class:`~cloudzarr.storage.InstrumentedStore` around the backend request, inside the store's
limiter, so it is the request's own latency and not queueing in cloudzarr; the store is opened
with a limiter as large as the largest concurrency asked for. ``req_s`` and ``mb_s`` are counts
and payload bytes over the wall time of the cell.

The operations:

=========  ===================================================================================
put        write an object of ``size`` bytes (``set``)
get        read a whole object
range      read half an object, starting a quarter in (one ranged GET)
head       ask an object's size (``getsize``: HEAD on S3)
list       list a folder of ``min(requests, 100)`` objects (``list_dir``; latency per page)
delete     delete objects written for the purpose (unmeasured writes first)
=========  ===================================================================================

Every object lives under a unique prefix ``cloudzarr-bench-<random>/``, which is deleted at the
end, on error, and on Ctrl-C or SIGTERM (the run is cancelled, its in-flight requests are
awaited, then the prefix is removed), so the bench leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cloudzarr.storage import InstrumentedStore, RangeByteRequest, Store

OPS = ("put", "get", "range", "head", "list", "delete")
#: The instrumented operation each bench op is measured by.
_MEASURED_AS = {
    "put": "set",
    "get": "get",
    "range": "get",
    "head": "getsize",
    "list": "list_dir",
    "delete": "delete",
}
#: How many distinct objects a read op cycles over (reads of one object could be cached).
READ_POOL = 16
LIST_OBJECTS_MAX = 100

_UNITS = {"": 1, "B": 1, "K": 1000, "KB": 1000, "KIB": 1024, "M": 10**6, "MB": 10**6}
_UNITS |= {"MIB": 2**20, "G": 10**9, "GB": 10**9, "GIB": 2**30}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """``"64KiB"`` -> 65536; decimal (KB, MB) and binary (KiB, MiB) units, bare bytes."""
    match = _SIZE_RE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(f"cannot read the size {text!r}; write e.g. 1KiB, 64KiB, 1MiB, 1000")
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(n: int) -> str:
    """65536 -> ``"64KiB"``: the shortest exact binary form, else bytes."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n}B"


@dataclass(frozen=True)
class BenchConfig:
    """What to measure.

    Parameters
    ----------
    ops
        Operations from :data:`OPS`.
    sizes
        Object sizes in bytes.
    concurrency
        Numbers of concurrent workers.
    requests
        Requests per cell (op x size x concurrency); ignored when ``duration`` is set.
    duration
        Seconds per cell instead of a count (at most 100,000 requests a cell).
    """

    ops: Sequence[str] = ("put", "get", "range", "head", "list", "delete")
    sizes: Sequence[int] = (1024, 64 * 1024, 1024 * 1024)
    concurrency: Sequence[int] = (1, 16)
    requests: int = 50
    duration: float | None = None

    def __post_init__(self) -> None:
        unknown = [op for op in self.ops if op not in OPS]
        if unknown or not self.ops:
            raise ValueError(f"unknown bench ops {unknown}; choose from {', '.join(OPS)}")
        if not self.sizes or any(s < 0 for s in self.sizes):
            raise ValueError(f"sizes must be non-negative byte counts, got {list(self.sizes)}")
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise ValueError(f"concurrency values must be at least 1, got {self.concurrency}")
        if self.requests < 1:
            raise ValueError(f"requests must be at least 1, got {self.requests}")
        if self.duration is not None and self.duration <= 0:
            raise ValueError(f"duration must be positive, got {self.duration}")

    @property
    def cells(self) -> list[tuple[str, int, int]]:
        """Every (op, size, concurrency) measured, in run order."""
        return [(op, s, c) for s in self.sizes for op in self.ops for c in self.concurrency]

    @property
    def max_requests(self) -> int:
        """Requests of one cell at most."""
        return 100_000 if self.duration is not None else self.requests


@dataclass(frozen=True)
class BenchRecord:
    """The result of one cell; latencies in milliseconds, throughput in requests and MB (1e6)
    per second of wall time."""

    op: str
    size: int
    concurrency: int
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    req_s: float
    mb_s: float
    errors: int
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data; NaN (no request measured) becomes None so the JSON stays valid."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


ProgressCallback = Callable[[int], None]


class BenchRunner:
    """Runs a :class:`BenchConfig` against one store under a unique prefix.

    Parameters
    ----------
    store
        The store to measure; its limiter should allow the largest concurrency.
    config
        What to measure.
    progress
        Called with the number of requests just completed, for a progress bar.
    prefix
        The folder to work in; ``cloudzarr-bench-<random>`` by default.
    """

    def __init__(
        self,
        store: Store,
        config: BenchConfig,
        *,
        progress: ProgressCallback | None = None,
        prefix: str | None = None,
    ) -> None:
        self.store = InstrumentedStore(store)
        self.config = config
        self.prefix = prefix or f"cloudzarr-bench-{uuid.uuid4().hex[:12]}"
        self._progress = progress or (lambda n: None)
        self._payloads: dict[int, bytes] = {}

    def _payload(self, size: int) -> bytes:
        if size not in self._payloads:
            # Random bytes: a store or proxy that compresses must not make the figures rosy.
            self._payloads[size] = os.urandom(size)
        return self._payloads[size]

    async def run(self) -> list[BenchRecord]:
        """Measure every cell, then remove the prefix (also when failing or cancelled)."""
        records: list[BenchRecord] = []
        try:
            for size in self.config.sizes:
                await self._seed_reads(size)
                for op in self.config.ops:
                    for conc in self.config.concurrency:
                        records.append(await self._cell(op, size, conc))
        finally:
            # Shield the clean-up from a second cancellation; it is short and it must finish.
            await asyncio.shield(self.cleanup())
        return records

    async def cleanup(self) -> None:
        """Delete everything under the prefix."""
        await self.store.inner.delete_dir(self.prefix)

    def _key(self, size: int, group: str, i: int) -> str:
        return f"{self.prefix}/{format_size(size)}/{group}/{i}"

    async def _seed_reads(self, size: int) -> None:
        needs = {"get", "range", "head"} & set(self.config.ops)
        payload = self._payload(size)
        inner = self.store.inner
        if needs:
            await _write_all(inner, {self._key(size, "read", i): payload for i in range(READ_POOL)})
        if "list" in self.config.ops:
            n = min(self.config.requests, LIST_OBJECTS_MAX)
            await _write_all(inner, {self._key(size, "list", i): b"" for i in range(n)})

    def _request(self, op: str, size: int, conc: int) -> Callable[[int], Any]:
        store = self.store
        payload = self._payload(size)
        if op == "put":
            return lambda i: store.set(self._key(size, f"put-c{conc}", i % READ_POOL), payload)
        if op == "get":
            return lambda i: store.get(self._key(size, "read", i % READ_POOL))
        if op == "range":
            start = size // 4
            byte_range = RangeByteRequest(start, start + max(size // 2, 1))
            return lambda i: store.get(self._key(size, "read", i % READ_POOL), byte_range)
        if op == "head":
            return lambda i: store.getsize(self._key(size, "read", i % READ_POOL))
        if op == "list":
            folder = f"{self.prefix}/{format_size(size)}/list"

            async def listing(i: int) -> None:
                async for _ in store.list_dir(folder):
                    pass

            return listing
        if op == "delete":
            return lambda i: store.delete(self._key(size, f"del-c{conc}", i))
        raise ValueError(f"unknown bench op {op!r}")

    def _payload_bytes(self, op: str, size: int, count: int) -> int:
        if op in ("put", "get"):
            return size * count
        if op == "range":
            return max(size // 2, 1) * count
        return 0

    async def _cell(self, op: str, size: int, conc: int) -> BenchRecord:
        if op == "delete":
            # The objects to delete are written first, unmeasured.
            n = self.config.max_requests if self.config.duration is None else 1000
            payload = self._payload(size)
            keys = [self._key(size, f"del-c{conc}", i) for i in range(n)]
            await _write_all(self.store.inner, dict.fromkeys(keys, payload))
        request = self._request(op, size, conc)
        limit = self.config.max_requests if op != "delete" or self.config.duration is None else 1000
        deadline = (
            None if self.config.duration is None else time.perf_counter() + self.config.duration
        )
        counter = iter(range(limit))
        errors = 0
        done = 0

        async def worker() -> None:
            nonlocal errors, done
            for i in counter:
                if deadline is not None and time.perf_counter() > deadline:
                    return
                try:
                    await _finish_even_if_cancelled(request(i))
                except Exception:
                    errors += 1
                done += 1
                self._progress(1)

        self.store.reset()
        start = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(conc):
                group.create_task(worker())
        wall = time.perf_counter() - start
        if self.config.duration is None:
            # Keep the progress bar honest when a cell ends early.
            self._progress(max(0, limit - done))
        hist = self.store.histogram(_MEASURED_AS[op])
        p50, p90, p99 = hist.percentiles(0.5, 0.9, 0.99)
        return BenchRecord(
            op=op,
            size=size,
            concurrency=conc,
            count=done,
            p50_ms=p50 * 1e3,
            p90_ms=p90 * 1e3,
            p99_ms=p99 * 1e3,
            max_ms=(hist.max * 1e3) if hist.count else math.nan,
            req_s=done / wall if wall > 0 else math.nan,
            mb_s=self._payload_bytes(op, size, done) / wall / 1e6 if wall > 0 else math.nan,
            errors=errors,
            wall_s=wall,
        )


async def _write_all(store: Store, items: dict[str, bytes]) -> None:
    """Write ``items`` concurrently; on cancellation every write in flight finishes first."""
    async with asyncio.TaskGroup() as group:
        for key, value in items.items():
            group.create_task(_finish_even_if_cancelled(store.set(key, value)))


async def _finish_even_if_cancelled(request: Awaitable[Any]) -> None:
    """Await ``request``; if cancelled meanwhile, let it finish first, then re-raise.

    A cancelled request may still land (a thread writing a file, a PUT the server already
    read), and it would land after the clean-up had deleted the prefix. Waiting for it closes
    that race.
    """
    task = asyncio.ensure_future(request)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


def total_requests(config: BenchConfig) -> int | None:
    """Requests the whole run sends (None when timed by duration)."""
    if config.duration is not None:
        return None
    return len(config.cells) * config.requests
