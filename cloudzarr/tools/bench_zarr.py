"""``cloudzarr bench --zarr``: workloads no object-store benchmark has, measured through Zarr.

=============  ===============================================================================
open           open and walk a synthetic hierarchy, consolidated and not (phase table)
read-chunks    read every chunk of a real (zstd-compressed) array, decoding each
shard-read     read one inner chunk of a shard: its index, then the chunk (requests counted)
create-race    many writers create one key at once with a conditional PUT: exactly 1 must win
ramp           double the concurrency of small GETs until the store throttles (429/503) or
               throughput stops growing; reports the rate where throttling began
hedging        the same 1 KiB GETs with hedging off, then on (``storage.hedge``): p50, p99, max,
               requests sent, hedges and hedges that won (cloud stores only)
cache          read the chunks of an array twice through a ``CacheStore``: the first pass fetches,
               the second is served from memory (time, requests sent, hits and misses)
=============  ===============================================================================

Everything is written under a unique folder of the target, removed at the end (also on error).
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from cloudzarr.errors import CloudzarrError, ThrottledError
from cloudzarr.tools.bench_stats import format_ms, percentiles_ms

WORKLOADS = ("open", "read-chunks", "shard-read", "create-race", "ramp", "hedging", "cache")


def parse_workloads(text: str | None, *, hierarchy: bool = False) -> list[str]:
    """``"open,ramp"`` -> ``["open", "ramp"]``; ``"all"`` is every available one."""
    names = [p.strip() for p in (text or "").split(",") if p.strip()]
    if hierarchy and "open" not in names:
        names.insert(0, "open")
    if names == ["all"]:
        return list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown --zarr workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    return names


class RaceLost(CloudzarrError):
    """A conditional-create race had a number of winners other than 1."""


def run_zarr_workloads(
    names: Sequence[str], target: Any, console: Console, *, shape: Any, latency: float
) -> None:
    """Run the workloads ``names`` against ``target`` and print a table for each."""
    from cloudzarr.storage import open_store
    from cloudzarr.tools.bench_hierarchy import run_hierarchy_bench
    from cloudzarr.tools.interrupt import run_interruptibly

    for name in names:
        if name == "open":
            run_hierarchy_bench(
                target.url, target.storage_options, console, shape=shape, latency=latency
            )
            continue
        folder = f"{target.url.rstrip('/')}/cloudzarr-bench-zarr-{uuid.uuid4().hex[:10]}"
        # Room for the ramp's highest concurrency: the store's limiter must not be the ceiling.
        store = open_store(folder, storage_options=target.storage_options or None, concurrency=256)
        try:
            with console.status(f"--zarr {name}..."):
                if name == "hedging":
                    table = run_interruptibly(
                        hedging_effect(folder, target.storage_options or None)
                    )
                else:
                    table = run_interruptibly(_WORKLOADS[name](store))
        finally:
            run_interruptibly(store.delete_dir(""))
            run_interruptibly(store.close())
        console.print(table)


def _table(title: str, rows: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title, header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for row in rows:
        table.add_row(*row)
    return table


async def _timed_all(calls: Sequence[Any], concurrency: int) -> tuple[list[float], float]:
    """Run ``calls`` (coroutine factories) ``concurrency`` at a time: latencies and wall."""
    latencies: list[float] = []
    queue = iter(calls)

    async def worker() -> None:
        for call in queue:
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return latencies, time.perf_counter() - start


async def read_chunks(store: Any, *, n: int = 64, side: int = 128) -> Table:
    """Read ``n`` chunks of ``side`` x ``side`` float32, zstd-compressed, each decoded."""
    from cloudzarr.api.asynchronous import create_array

    rng = np.random.default_rng(0)
    data = np.cumsum(rng.standard_normal((side * n, side)), axis=0).astype("f4")
    array = await create_array(store, name="a", data=data, chunks=(side, side))
    regions = [(slice(i * side, (i + 1) * side), slice(0, side)) for i in range(n)]
    calls = [lambda r=r: array.getitem(r) for r in regions]
    latencies, wall = await _timed_all(calls, 16)
    p50, _, p99 = percentiles_ms(latencies)
    return _table(
        f"read-chunks: {n} chunks of {side}x{side} float32 (zstd), 16 at once",
        [
            ("chunk p50 (fetch + decode)", format_ms(p50)),
            ("chunk p99", format_ms(p99)),
            ("chunks / s", f"{n / wall:,.1f}"),
            ("decoded MB / s", f"{data.nbytes / wall / 1e6:,.1f}"),
        ],
    )


async def shard_read(store: Any, *, inner: int = 8, side: int = 64) -> Table:
    """Read single inner chunks of one shard of ``inner`` x ``inner`` chunks."""
    from cloudzarr.api.asynchronous import create_array
    from cloudzarr.storage import InstrumentedStore

    full = side * inner
    data = np.arange(full * full, dtype="i4").reshape(full, full)
    await create_array(store, name="s", data=data, chunks=(side, side), shards=(full, full))
    counted = InstrumentedStore(store)
    from cloudzarr.api.asynchronous import open_array

    array = await open_array(counted, path="s", mode="r")
    counted.reset()
    coords = [(i % inner, (i * 3) % inner) for i in range(32)]
    regions = [
        (slice(a * side, (a + 1) * side), slice(b * side, (b + 1) * side)) for a, b in coords
    ]
    calls = [lambda r=r: array.getitem(r) for r in regions]
    latencies, _ = await _timed_all(calls, 1)
    gets = counted.stats()["get"].count
    p50, _, p99 = percentiles_ms(latencies)
    return _table(
        f"shard-read: 1 inner chunk ({side}x{side} int32) of a {inner}x{inner}-chunk shard",
        [
            ("read p50", format_ms(p50)),
            ("read p99", format_ms(p99)),
            ("GET requests per inner-chunk read", f"{gets / len(regions):.2f}"),
            ("bytes of the whole shard (never read)", f"{data.nbytes:,}"),
        ],
    )


async def create_race(store: Any, *, writers: int = 16, rounds: int = 5) -> Table:
    """``writers`` conditional creates of one key at once, ``rounds`` times: 1 winner each."""
    winners: list[int] = []
    for r in range(rounds):
        key = f"race/{r}"
        results = await asyncio.gather(
            *(store.set_if_not_exists(key, f"writer {w}".encode()) for w in range(writers))
        )
        winners.append(sum(bool(x) for x in results))
    table = _table(
        f"create-race: {writers} conditional creates of one key, {rounds} rounds",
        [("winners per round (must be 1)", ", ".join(map(str, winners)))],
    )
    if any(w != 1 for w in winners):
        raise RaceLost(f"conditional create had {winners} winners per round; exactly 1 expected")
    return table


async def ramp(store: Any, *, step_s: float = 1.0, max_concurrency: int = 256) -> Table:
    """Double concurrency of 1 KiB GETs each step until throttled or flat."""
    await store.set("ramp/object", b"x" * 1024)
    rows: list[tuple[str, str]] = []
    conc = 1
    best = 0.0
    flat_steps = 0
    verdict = f"no throttling up to concurrency {max_concurrency}"
    limiter = getattr(store, "limiter", None)
    while conc <= max_concurrency:
        done = throttled = 0
        # A cloud store retries a throttled request and halves its limiter: those cuts count
        # as throttling too, even when the retry then succeeded.
        cuts = getattr(limiter, "decreases", 0)
        deadline = time.perf_counter() + step_s

        async def worker(deadline: float = deadline) -> None:
            nonlocal done, throttled
            while time.perf_counter() < deadline:
                try:
                    await store.get("ramp/object")
                    done += 1
                except ThrottledError:
                    throttled += 1

        start = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(conc):
                group.create_task(worker())
        rate = done / (time.perf_counter() - start)
        throttled += getattr(limiter, "decreases", 0) - cuts
        rows.append((f"concurrency {conc}", f"{rate:,.0f} req/s, {throttled} throttled"))
        if throttled:
            verdict = f"throttling (429/503) began at about {rate:,.0f} req/s"
            break
        flat_steps = flat_steps + 1 if rate < best * 1.1 else 0
        best = max(best, rate)
        if flat_steps >= 2:
            verdict = f"no throttling; throughput flat at about {best:,.0f} req/s"
            break
        conc *= 2
    rows.append(("verdict", verdict))
    return _table("ramp: 1 KiB GETs, concurrency doubled each step", rows)


async def hedging_effect(
    url: str, options: dict[str, Any] | None, *, requests: int = 400, concurrency: int = 8
) -> Table:
    """The same GETs through a store with hedging off, then one with it on."""
    from cloudzarr.config import config
    from cloudzarr.storage import open_store

    rows: list[tuple[str, str]] = []
    for hedge in (False, True):
        with config.set({"storage.hedge": hedge}):
            store = open_store(url, storage_options=options, concurrency=concurrency)
        if not hasattr(store, "hedging"):
            await store.close()
            return _table("hedging", [("not available", "only cloud stores hedge GETs")])
        try:
            await store.set("hedge/object", b"x" * 1024)
            store.requests.reset()
            calls = [functools.partial(store.get, "hedge/object") for _ in range(requests)]
            latencies, _ = await _timed_all(calls, concurrency)
            sent = store.requests.total
        finally:
            await store.close()
        p50, _, p99 = percentiles_ms(latencies)
        label = "on" if hedge else "off"
        rows.append(
            (f"hedging {label}: p50 / p99 / max",
             f"{format_ms(p50)} / {format_ms(p99)} / {format_ms(max(latencies) * 1e3)}")
        )  # fmt: skip
        hedging: Any = store.hedging
        extra = f", {hedging.hedges} hedge(s), {hedging.hedge_wins} won" if hedging else ""
        rows.append((f"hedging {label}: requests sent", f"{sent} for {requests} GETs{extra}"))
    return _table(f"hedging: {requests} GETs of 1 KiB, {concurrency} at once", rows)


async def cache_effect(store: Any, *, n: int = 32, side: int = 128) -> Table:
    """Read ``n`` chunks twice through a :class:`~cloudzarr.storage.cache.CacheStore`."""
    from cloudzarr.api.asynchronous import create_array, open_array
    from cloudzarr.storage.cache import CacheStore

    data = np.arange(side * n * side, dtype="f4").reshape(side * n, side)
    await create_array(store, name="a", data=data, chunks=(side, side))
    cached = CacheStore(store, max_bytes=64 * 2**20)
    array = await open_array(cached, path="a", mode="r")
    regions = [(slice(i * side, (i + 1) * side), slice(0, side)) for i in range(n)]

    def sent() -> int:  # cache_hit / cache_miss are counted beside the real requests
        counts = store.requests.snapshot()
        return sum(v for k, v in counts.items() if not k.startswith("cache_"))

    rows = []
    for label in ("first pass", "second pass"):
        before = sent()
        calls = [lambda r=r: array.getitem(r) for r in regions]
        latencies, wall = await _timed_all(calls, 16)
        p50, _, _ = percentiles_ms(latencies)
        rows += [
            (f"{label}: chunk p50", format_ms(p50)),
            (f"{label}: wall", format_ms(wall)),
            (f"{label}: requests to the store", str(sent() - before)),
        ]
    stats = cached.cache_stats
    rows.append(("cache hits / misses", f"{stats.hits} / {stats.misses}"))
    return _table(f"cache: {n} chunks of {side}x{side} float32 read twice, 16 at once", rows)


_WORKLOADS: dict[str, Any] = {
    "read-chunks": read_chunks,
    "shard-read": shard_read,
    "create-race": create_race,
    "ramp": ramp,
    "cache": cache_effect,
}
