"""``cloudzarr bench``: request latency and throughput of any store, op by op or mixed.

For each operation x object size x concurrency (a *cell*), ``c`` workers send requests until
``requests`` were sent, or until the cell's share of ``duration`` (the whole run's length,
split evenly over the cells) or ``duration_per_cell`` has passed. With ``mix`` (warp's mixed
workload) each size x concurrency is one cell whose requests draw their operation by weight,
and one record is reported per operation plus a ``mix`` total.

Every request is timed around the store call (the store is opened with a limiter as large as
the largest concurrency, so that is the request's own time, not queueing in cloudzarr) and kept
as a :class:`~cloudzarr.tools.bench_stats.Sample`: percentiles are exact, the per-second series
and ``--raw`` files come from the same samples. GETs on S3 and Azure also record the time to first
byte (the response headers), measured with one obstore GET whose body is then read; other
stores return whole values, so their ``ttfb`` is null rather than a copy of the full time.

The operations:

=========  ===================================================================================
put        write an object of ``size`` bytes (``set``)
get        read a whole object
range      read half an object, starting a quarter in (one ranged GET)
head       ask an object's size (``getsize``: HEAD on S3)
list       list a folder of ``min(requests, 100)`` objects (``list_dir``; latency per listing)
delete     delete objects written for the purpose (unmeasured writes first)
=========  ===================================================================================

Every object lives under a unique prefix ``cloudzarr-bench-<random>/``, which is deleted at the
end, on error, and on Ctrl-C or SIGTERM (the run is cancelled, its in-flight requests are
awaited, then the prefix is removed), so the bench leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cloudzarr.storage import RangeByteRequest, Store
from cloudzarr.tools.bench_stats import Sample, cell_stats

OPS = ("put", "get", "range", "head", "list", "delete")
#: The most requests one cell sends when timed by duration (memory stores are that fast).
MAX_REQUESTS_PER_CELL = 200_000
#: Objects a timed delete cell writes first (it stops early if they run out).
DELETE_POOL_TIMED = 2000
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


def parse_mix(text: str) -> dict[str, int]:
    """``"get=70,put=20,list=5,delete=5"`` -> weights by op (positive integers)."""
    weights: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        op, sep, raw = part.partition("=")
        op = op.strip()
        if not sep or not raw.strip().isdigit() or int(raw) < 1:
            raise ValueError(f"cannot read {part!r} in --mix; write e.g. get=70,put=20,list=10")
        weights[op] = int(raw)
    if not weights:
        raise ValueError("--mix is empty; write e.g. get=70,put=20,list=10")
    return weights


@dataclass(frozen=True)
class BenchConfig:
    """What to measure.

    Parameters
    ----------
    ops
        Operations from :data:`OPS` (ignored with ``mix``).
    sizes
        Object sizes in bytes.
    concurrency
        Numbers of concurrent workers.
    requests
        Requests per cell; ignored when a duration is set.
    duration
        Seconds for the whole run, split evenly over the cells.
    duration_per_cell
        Seconds per cell (instead of ``duration``).
    mix
        Weights by op for a mixed workload (``{"get": 70, "put": 30}``).
    """

    ops: Sequence[str] = ("put", "get", "range", "head", "list", "delete")
    sizes: Sequence[int] = (1024, 64 * 1024, 1024 * 1024)
    concurrency: Sequence[int] = (1, 16)
    requests: int = 50
    duration: float | None = None
    duration_per_cell: float | None = None
    mix: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        ops = list(self.mix) if self.mix else list(self.ops)
        unknown = [op for op in ops if op not in OPS]
        if unknown or not ops:
            raise ValueError(f"unknown bench ops {unknown}; choose from {', '.join(OPS)}")
        if not self.sizes or any(s < 0 for s in self.sizes):
            raise ValueError(f"sizes must be non-negative byte counts, got {list(self.sizes)}")
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise ValueError(f"concurrency values must be at least 1, got {self.concurrency}")
        if self.requests < 1:
            raise ValueError(f"requests must be at least 1, got {self.requests}")
        for name in ("duration", "duration_per_cell"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.duration is not None and self.duration_per_cell is not None:
            raise ValueError("give duration (whole run) or duration_per_cell, not both")

    @property
    def cells(self) -> list[tuple[str, int, int]]:
        """Every (op, size, concurrency) measured, in run order (op ``"mix"`` with ``mix``)."""
        ops = ["mix"] if self.mix else list(self.ops)
        return [(op, s, c) for s in self.sizes for op in ops for c in self.concurrency]

    @property
    def ops_used(self) -> list[str]:
        """The operations the run sends."""
        return list(self.mix) if self.mix else list(self.ops)

    @property
    def timed(self) -> bool:
        """Whether cells end by time rather than by count."""
        return self.duration is not None or self.duration_per_cell is not None

    @property
    def cell_seconds(self) -> float | None:
        """How long one cell runs (None: until ``requests`` were sent)."""
        if self.duration_per_cell is not None:
            return self.duration_per_cell
        if self.duration is not None:
            return self.duration / len(self.cells)
        return None

    @property
    def max_requests(self) -> int:
        """Requests of one cell at most."""
        return MAX_REQUESTS_PER_CELL if self.timed else self.requests


@dataclass(frozen=True)
class BenchRecord:
    """The result of one cell (or of one op of a mixed cell); latencies in milliseconds,
    throughput in requests and MB (1e6) per second of wall time."""

    op: str
    size: int
    concurrency: int
    count: int
    p50_ms: float
    ttfb_p50_ms: float | None
    p90_ms: float
    ttfb_p90_ms: float | None
    p99_ms: float
    ttfb_p99_ms: float | None
    min_ms: float
    mean_ms: float
    max_ms: float
    req_s: float
    mb_s: float
    errors: int
    wall_s: float
    workload: str = "single"
    p50_ci_ms: tuple[float, float] | None = None
    series: dict[str, list[float]] = field(default_factory=dict, repr=False)
    samples: tuple[Sample, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data without the samples; NaN (nothing measured) becomes None (valid JSON)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and math.isnan(v):
                return None
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v

        return {k: clean(v) for k, v in asdict(self).items() if k != "samples"}


def make_record(
    op: str, size: int, conc: int, samples: Sequence[Sample], wall: float, workload: str
) -> BenchRecord:
    """A record of ``samples`` measured over ``wall`` seconds."""
    st = cell_stats(samples, wall)
    return BenchRecord(
        op=op,
        size=size,
        concurrency=conc,
        count=st.count,
        p50_ms=st.p50_ms,
        ttfb_p50_ms=st.ttfb_p50_ms,
        p90_ms=st.p90_ms,
        ttfb_p90_ms=st.ttfb_p90_ms,
        p99_ms=st.p99_ms,
        ttfb_p99_ms=st.ttfb_p99_ms,
        min_ms=st.min_ms,
        mean_ms=st.mean_ms,
        max_ms=st.max_ms,
        req_s=st.count / wall if wall > 0 else math.nan,
        mb_s=st.nbytes / wall / 1e6 if wall > 0 else math.nan,
        errors=st.errors,
        wall_s=wall,
        workload=workload,
        p50_ci_ms=st.p50_ci_ms,
        series=st.series,
        samples=tuple(samples),
    )


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
    client
        This process's number when several run at once (``--clients``), kept in the samples.
    """

    def __init__(
        self,
        store: Store,
        config: BenchConfig,
        *,
        progress: ProgressCallback | None = None,
        prefix: str | None = None,
        client: int = 0,
    ) -> None:
        self.store = store
        self.config = config
        self.prefix = prefix or f"cloudzarr-bench-{uuid.uuid4().hex[:12]}"
        self.client = client
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
                await self._seed(size)
                for op, _, conc in (c for c in self.config.cells if c[1] == size):
                    records.extend(await self._cell(op, size, conc))
        finally:
            # Shield the clean-up from a second cancellation; it is short and it must finish.
            await asyncio.shield(self.cleanup())
        return records

    async def cleanup(self) -> None:
        """Delete everything under the prefix."""
        await self.store.delete_dir(self.prefix)

    def _key(self, size: int, group: str, i: int) -> str:
        return f"{self.prefix}/{format_size(size)}/{group}/{i}"

    async def _seed(self, size: int) -> None:
        ops = set(self.config.ops_used)
        payload = self._payload(size)
        if {"get", "range", "head"} & ops:
            await _write_all(
                self.store, {self._key(size, "read", i): payload for i in range(READ_POOL)}
            )
        if "list" in ops:
            n = min(self.config.requests, LIST_OBJECTS_MAX)
            await _write_all(self.store, {self._key(size, "list", i): b"" for i in range(n)})

    async def _get(self, key: str, byte_range: RangeByteRequest | None) -> tuple[float | None, int]:
        """Read ``key``; ``(seconds to the first byte or None, bytes read)``.

        On an obstore-backed store (S3, Azure) the GET is sent with obstore directly: its
        answer returns once the headers are in, so the first byte is timed apart from the body.
        That request skips the store's retries, hedging and counting: it is what is measured.
        """
        from cloudzarr.storage.objstore import ObstoreStore

        store = self.store
        if isinstance(store, ObstoreStore):
            import obstore

            options: dict[str, Any] = {}
            if byte_range is not None:
                options["range"] = (byte_range.start, byte_range.end)
            start = time.perf_counter()
            result = await obstore.get_async(store.client, store._key(key), options=options or None)  # type: ignore[arg-type]
            first = time.perf_counter() - start
            return first, len(await result.bytes_async())
        value = await store.get(key, byte_range)
        if value is None:
            raise KeyError(key)
        return None, len(value)

    def _request(self, op: str, size: int, conc: int) -> Callable[[int], Awaitable[Any]]:
        store = self.store
        payload = self._payload(size)
        if op == "put":

            async def put(i: int) -> tuple[None, int]:
                await store.set(self._key(size, f"put-c{conc}", i % READ_POOL), payload)
                return None, size

            return put
        if op in ("get", "range"):
            start = size // 4
            byte_range = (
                RangeByteRequest(start, start + max(size // 2, 1)) if op == "range" else None
            )
            return lambda i: self._get(self._key(size, "read", i % READ_POOL), byte_range)
        if op == "head":

            async def head(i: int) -> tuple[None, int]:
                await store.getsize(self._key(size, "read", i % READ_POOL))
                return None, 0

            return head
        if op == "list":
            folder = f"{self.prefix}/{format_size(size)}/list"

            async def listing(i: int) -> tuple[None, int]:
                async for _ in store.list_dir(folder):
                    pass
                return None, 0

            return listing
        if op == "delete":

            async def delete(i: int) -> tuple[None, int]:
                await store.delete(self._key(size, f"del-c{conc}", i))
                return None, 0

            return delete
        raise ValueError(f"unknown bench op {op!r}")

    def _op_sequence(self, op: str) -> list[str]:
        """The op of request ``i`` is ``seq[i % len(seq)]``: the mix's weights, shuffled with a
        fixed seed so that runs are comparable."""
        if op != "mix" or not self.config.mix:
            return [op]
        seq = [name for name, weight in self.config.mix.items() for _ in range(weight)]
        random.Random(0).shuffle(seq)
        return seq

    async def _cell(self, op: str, size: int, conc: int) -> list[BenchRecord]:
        seq = self._op_sequence(op)
        timed = self.config.timed
        limit = self.config.max_requests
        if "delete" in seq:
            # The objects to delete are written first, unmeasured.
            n = min(limit, DELETE_POOL_TIMED) if timed else limit
            n = max(1, n * seq.count("delete") // len(seq))
            keys = [self._key(size, f"del-c{conc}", i) for i in range(n)]
            await _write_all(self.store, dict.fromkeys(keys, self._payload(size)))
            if seq == ["delete"]:
                limit = n
        requests = {name: self._request(name, size, conc) for name in set(seq)}
        seconds = self.config.cell_seconds
        counter = iter(range(limit))
        deletes = iter(range(limit))
        samples: list[Sample] = []
        origin = time.perf_counter()
        deadline = None if seconds is None else origin + seconds

        async def worker() -> None:
            for i in counter:
                if deadline is not None and time.perf_counter() > deadline:
                    return
                name = seq[i % len(seq)]
                index = next(deletes) if name == "delete" else i
                t0 = time.perf_counter()
                ttfb: float | None = None
                nbytes = 0
                ok = True
                try:
                    ttfb, nbytes = await _finish_even_if_cancelled(requests[name](index))
                except Exception:
                    ok = False
                t1 = time.perf_counter()
                samples.append(
                    Sample(name, t0 - origin, t1 - origin, ttfb, ok, nbytes, self.client)
                )
                self._progress(1)

        async with asyncio.TaskGroup() as group:
            for _ in range(conc):
                group.create_task(worker())
        wall = time.perf_counter() - origin
        if not timed:
            # Keep the progress bar honest when a cell ends early.
            self._progress(max(0, self.config.requests - len(samples)))
        if op != "mix":
            return [make_record(op, size, conc, samples, wall, "single")]
        records = [
            make_record(name, size, conc, [s for s in samples if s.op == name], wall, "mix")
            for name in self.config.ops_used
        ]
        records.append(make_record("mix", size, conc, samples, wall, "mix"))
        return records


async def _write_all(store: Store, items: dict[str, bytes]) -> None:
    """Write ``items`` concurrently; on cancellation every write in flight finishes first."""
    async with asyncio.TaskGroup() as group:
        for key, value in items.items():
            group.create_task(_finish_even_if_cancelled(store.set(key, value)))


async def _finish_even_if_cancelled[T](request: Awaitable[T]) -> T:
    """Await ``request``; if cancelled meanwhile, let it finish first, then re-raise.

    A cancelled request may still land (a thread writing a file, a PUT the server already
    read), and it would land after the clean-up had deleted the prefix. Waiting for it closes
    that race.
    """
    task = asyncio.ensure_future(request)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


def total_requests(config: BenchConfig) -> int | None:
    """Requests the whole run sends (None when timed by duration)."""
    if config.timed:
        return None
    return len(config.cells) * config.requests
