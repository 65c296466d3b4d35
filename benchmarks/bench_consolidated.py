"""Consolidated metadata benchmark: keeping it current while writing, and rebuilding it.

cloudzarr against zarr-python 3.4.2 in the same run:

- ``create N under consolidated root``: N groups created one by one under a consolidated root
  (in-memory store). cloudzarr keeps the root's consolidated metadata current after every
  create (``plain``: two swaps of the root per create, so the bytes written grow as N^2) or
  once at the end (``batch``: ``with group.batch()``, two swaps of the root in all). zarr-python
  does not maintain consolidated metadata: its row creates the N groups and then runs
  ``consolidate_metadata`` once, which is what its users do. Bytes written are every value
  stored (``bytes_in``);
- ``consolidate``: ``consolidate_metadata`` of a ``outer`` x ``inner`` groups x ``arrays``
  arrays hierarchy (default 10 x 13 x 10 = 1,441 nodes) behind ``latency`` (20 ms) per request
  (:class:`~cloudzarr.storage.LatencyStore`; zarr-python through the same
  :class:`benchmarks.bench_hierarchy.SlowZarrStore`).

Figures: best of ``repeat`` untraced runs; peak traced memory (``tracemalloc``) of one more run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tracemalloc
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import zarr
import zarr.storage

from benchmarks.bench_hierarchy import SlowZarrStore, _build, _zarr_store
from cloudzarr.api import asynchronous as aapi
from cloudzarr.storage import InstrumentedStore, LatencyStore, MemoryStore

QUICK: dict[str, Any] = {"nodes": 20, "outer": 2, "inner": 2, "arrays": 2, "repeat": 1}


async def _measure(
    make: Callable[[], Awaitable[Callable[[], Awaitable[int]]]], repeat: int
) -> tuple[float, int, int]:
    """Best seconds, bytes written and peak traced memory of ``repeat`` runs of a case.

    ``make`` builds a fresh fixture (untimed) and returns the timed action, which returns the
    bytes it wrote.
    """
    best: tuple[float, int] | None = None
    for _ in range(repeat):
        action = await make()
        start = time.perf_counter()
        written = await action()
        seconds = time.perf_counter() - start
        if best is None or seconds < best[0]:
            best = (seconds, written)
    assert best is not None
    # Peak memory from one more run of its own: tracing allocations slows Python code several
    # times over, so a traced run's time would say more about tracemalloc than about the case.
    action = await make()
    tracemalloc.start()
    await action()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best[0], best[1], peak


def _cloudzarr_creates(n: int, batched: bool) -> Callable[[], Awaitable[Any]]:
    async def make() -> Callable[[], Awaitable[int]]:
        store = InstrumentedStore(MemoryStore())
        await aapi.create_group(store)
        root = await aapi.consolidate_metadata(store)
        store.reset()

        async def action() -> int:
            if batched:
                async with root.batch():
                    for i in range(n):
                        await root.create_group(f"g{i}")
            else:
                for i in range(n):
                    await root.create_group(f"g{i}")
            stats = store.stats()
            return sum(s.bytes_in for s in stats.operations.values())

        return action

    return make


class _CountingZarrStore(zarr.storage.WrapperStore):  # type: ignore[type-arg]
    """zarr-python's store wrapper counting the bytes written."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.written = 0

    async def set(self, key: str, value: Any) -> None:
        self.written += len(value)
        await self._store.set(key, value)


def _zarr_creates(n: int) -> Callable[[], Awaitable[Any]]:
    async def make() -> Callable[[], Awaitable[int]]:
        store = _CountingZarrStore(zarr.storage.MemoryStore())
        await zarr.api.asynchronous.open_group(store=store, mode="w", zarr_format=3)
        store.written = 0

        async def action() -> int:
            root = await zarr.api.asynchronous.open_group(store=store, mode="r+")
            for i in range(n):
                await root.create_group(f"g{i}")
            await zarr.api.asynchronous.consolidate_metadata(store)
            return store.written

        return action

    return make


def _cloudzarr_consolidate(data: dict[str, bytes], latency: float) -> Callable[[], Awaitable[Any]]:
    async def make() -> Callable[[], Awaitable[int]]:
        inner = InstrumentedStore(MemoryStore(dict(data)))
        store = LatencyStore(inner, latency=latency)

        async def action() -> int:
            await aapi.consolidate_metadata(store)
            stats = inner.stats()
            return sum(s.bytes_in for s in stats.operations.values())

        return action

    return make


def _zarr_consolidate(data: dict[str, bytes], latency: float) -> Callable[[], Awaitable[Any]]:
    async def make() -> Callable[[], Awaitable[int]]:
        store: SlowZarrStore = _zarr_store(data, latency)

        async def action() -> int:
            await zarr.api.asynchronous.consolidate_metadata(store)
            return 0

        return action

    return make


def _row(case: str, library: str, figures: tuple[float, int, int], **extra: Any) -> dict[str, Any]:
    seconds, written, peak = figures
    return {
        "case": case,
        "library": library,
        "seconds": round(seconds, 4),
        "bytes_written": written,
        "peak_mib": round(peak / 2**20, 1),
        **extra,
    }


async def _run(
    nodes: int, outer: int, inner: int, arrays: int, latency: float, repeat: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    case = f"create {nodes} under consolidated root"
    plain = await _measure(_cloudzarr_creates(nodes, batched=False), repeat)
    batch = await _measure(_cloudzarr_creates(nodes, batched=True), repeat)
    theirs = await _measure(_zarr_creates(nodes), repeat)
    rows.append(_row(case, "cloudzarr (plain)", plain))
    rows.append(_row(case, "cloudzarr (batch)", batch))
    rows.append(_row(case, "zarr-python (create, then consolidate)", theirs))
    _, consolidated = await _build(outer, inner, arrays)
    data = {k: v for k, v in consolidated.items()}
    n_nodes = sum(1 for k in data if k.endswith("zarr.json"))
    case = f"consolidate {n_nodes} nodes, {latency * 1000:g} ms latency"
    ours = await _measure(_cloudzarr_consolidate(data, latency), repeat)
    with zarr.config.set({"async.concurrency": 64}), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = await _measure(_zarr_consolidate(data, latency), repeat)
    rows.append(_row(case, "cloudzarr", ours, nodes=n_nodes))
    rows.append(_row(case, "zarr-python", theirs, nodes=n_nodes))
    for row in rows:
        peer = next(
            r for r in rows if r["case"] == row["case"] and r["library"].startswith("zarr-python")
        )
        if row is not peer and row["seconds"] > 0:
            row["speedup_vs_zarr"] = round(peer["seconds"] / row["seconds"], 2)
    return rows


def run(
    nodes: int = 1000,
    outer: int = 10,
    inner: int = 13,
    arrays: int = 10,
    latency: float = 0.02,
    repeat: int = 3,
) -> list[dict[str, Any]]:
    """Run every case; one row per case and library (best of ``repeat`` runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr-python warns that consolidated v3 is unofficial
        return asyncio.run(_run(nodes, outer, inner, arrays, latency, repeat))


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A table of the rows."""
    lines = [
        "| case | library | seconds | speedup vs zarr | bytes written | peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['library']} | {r['seconds']} | {r.get('speedup_vs_zarr', '')} "
            f"| {r['bytes_written']} | {r['peak_mib']} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.bench_consolidated [--quick]``: print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = dict(QUICK) if args.quick else {"repeat": args.repeat}
    kwargs["latency"] = args.latency
    print(to_markdown(run(**kwargs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
