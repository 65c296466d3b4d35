"""Hierarchy benchmark: member discovery, consolidated open, hierarchy writes.

cloudzarr against zarr-python 3.4.2 in the same run:

- ``discovery``: ``members(max_depth=None)`` of a 10 x 10 groups x 10 arrays hierarchy (1110
  nodes, Zarr v3) behind an in-memory store adding ``latency`` (20 ms) to every call;
- ``consolidated``: open + ``members(max_depth=None)`` of the same hierarchy, consolidated,
  behind the same slow store, and the parse of its ``zarr.json`` alone (against ``json.loads``);
- ``create_hierarchy`` of 1,000 nodes and ``create_array("a/b/c")`` with missing parents on the
  S3 emulator (moto server in a subprocess).

zarr-python gets the same 20 ms per call through :class:`SlowZarrStore`, a small
``zarr.storage.WrapperStore`` that sleeps before every request and counts requests and the peak
in flight (used in this benchmark only). zarr-python runs with ``async.concurrency=64``.

``run(...)`` returns one row per case and library; ``main()`` prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import ExitStack
from typing import Any

import zarr
import zarr.storage
from zarr.core.buffer import default_buffer_prototype

from cloudzarr.api import asynchronous as aapi
from cloudzarr.arrays import build_array_metadata
from cloudzarr.groups import AsyncGroup
from cloudzarr.metadata.group import GroupMetadataV3
from cloudzarr.storage import LatencyStore, MemoryStore

QUICK: dict[str, Any] = {"outer": 2, "inner": 2, "arrays": 3, "nodes": 20, "repeat": 1, "s3": False}


# --- zarr-python behind a slow store (benchmark only) -------------------------------------------


class SlowZarrStore(zarr.storage.WrapperStore):
    """zarr-python's store wrapper adding ``latency`` seconds to every request, counting them."""

    def __init__(self, store: Any, latency: float) -> None:
        super().__init__(store)
        self.latency = latency
        self.requests: dict[str, int] = {}
        self.in_flight = 0
        self.peak = 0

    async def _slow(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        self.requests[name] = self.requests.get(name, 0) + 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            return await call()
        finally:
            self.in_flight -= 1

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        return await self._slow("get", lambda: self._store.get(key, prototype, byte_range))

    async def exists(self, key: str) -> bool:
        return bool(await self._slow("exists", lambda: self._store.exists(key)))

    async def set(self, key: str, value: Any) -> None:
        await self._slow("set", lambda: self._store.set(key, value))

    async def set_if_not_exists(self, key: str, value: Any) -> None:
        await self._slow("set_if_not_exists", lambda: self._store.set_if_not_exists(key, value))

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        names = await self._slow("list_dir", lambda: _collect(self._store.list_dir(prefix)))
        for name in names:
            yield name

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        names = await self._slow("list_prefix", lambda: _collect(self._store.list_prefix(prefix)))
        for name in names:
            yield name

    def reset(self) -> None:
        self.requests = {}
        self.peak = 0


async def _collect(it: AsyncIterator[str]) -> list[str]:
    return [x async for x in it]


# --- fixtures -------------------------------------------------------------------------------------


def grid(outer: int, inner: int, arrays: int) -> dict[str, Any]:
    """The benchmark hierarchy's nodes (``outer`` x ``inner`` groups x ``arrays`` arrays)."""
    arr = build_array_metadata(shape=(100, 100), dtype="float32", chunks=(10, 10))
    nodes: dict[str, Any] = {"": GroupMetadataV3()}
    for i in range(outer):
        nodes[f"g{i}"] = GroupMetadataV3()
        for j in range(inner):
            nodes[f"g{i}/h{j}"] = GroupMetadataV3()
            for k in range(arrays):
                nodes[f"g{i}/h{j}/a{k}"] = arr
    return nodes


async def _build(outer: int, inner: int, arrays: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The plain and the consolidated hierarchy, as key -> bytes."""
    plain = MemoryStore()
    await aapi.create_hierarchy(store=plain, nodes=grid(outer, inner, arrays))
    consolidated = MemoryStore(dict(plain._data))
    await aapi.consolidate_metadata(consolidated)
    return dict(plain._data), dict(consolidated._data)


def _zarr_store(data: dict[str, bytes], latency: float) -> SlowZarrStore:
    buf = default_buffer_prototype().buffer
    inner = zarr.storage.MemoryStore({k: buf.from_bytes(v) for k, v in data.items()})
    return SlowZarrStore(inner, latency)


def _best(times: list[float]) -> float:
    return round(min(times), 4)


# --- cases ----------------------------------------------------------------------------------------


async def _discovery(
    data: dict[str, bytes], latency: float, repeat: int, consolidated: bool
) -> list[dict[str, Any]]:
    case = "consolidated open+members" if consolidated else "discovery members(None)"
    rows: list[dict[str, Any]] = []
    inner = MemoryStore(dict(data))
    store = LatencyStore(inner, latency=latency)
    times: list[float] = []
    found = 0
    for _ in range(repeat):
        inner.requests.reset()
        store.limiter.reset_peak()
        start = time.perf_counter()
        if consolidated:
            group = await AsyncGroup.open(store, zarr_format=3)
        else:
            group = AsyncGroup(store, "", GroupMetadataV3())
        found = len([p async for p, _ in group.members(max_depth=None)])
        times.append(time.perf_counter() - start)
    rows.append(
        {
            "case": case,
            "library": "cloudzarr",
            "seconds": _best(times),
            "nodes": found,
            "requests": inner.requests.snapshot(),
            "peak_in_flight": store.limiter.peak_in_flight,
        }
    )

    zstore = _zarr_store(data, latency)
    times = []
    with zarr.config.set({"async.concurrency": 64}):
        for _ in range(repeat):
            zstore.reset()
            start = time.perf_counter()
            if consolidated:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    zgroup = await zarr.api.asynchronous.open_consolidated(zstore, zarr_format=3)
            else:
                zgroup = zarr.AsyncGroup(
                    metadata=zarr.core.group.GroupMetadata(),
                    store_path=zarr.storage.StorePath(zstore),
                )
            found = len([p async for p, _ in zgroup.members(max_depth=None)])
            times.append(time.perf_counter() - start)
    rows.append(
        {
            "case": case,
            "library": "zarr-python",
            "seconds": _best(times),
            "nodes": found,
            "requests": dict(zstore.requests),
            "peak_in_flight": zstore.peak,
        }
    )
    return rows


def _parse(data: dict[str, bytes], repeat: int) -> list[dict[str, Any]]:
    doc = data["zarr.json"]
    rows = []
    for library, parse in (
        ("json.loads", lambda: json.loads(doc)),
        ("cloudzarr", lambda: GroupMetadataV3.from_dict(json.loads(doc))),
        ("zarr-python", lambda: zarr.core.group.GroupMetadata.from_dict(json.loads(doc))),
    ):
        times = []
        for _ in range(max(repeat, 3)):
            start = time.perf_counter()
            parse()
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "case": f"parse consolidated zarr.json ({len(doc) // 1024} KiB)",
                "library": library,
                "seconds": _best(times),
            }
        )
    return rows


async def _s3_writes(n_nodes: int, repeat: int) -> list[dict[str, Any]]:
    """Both libraries write into one bucket through one store each (connections reused, one
    warm-up request first); every run writes under a fresh prefix."""
    from cloudzarr.storage.s3 import S3Store
    from cloudzarr.tools.servers import run_moto_server

    rows: list[dict[str, Any]] = []
    arr = build_array_metadata(shape=(10,), dtype="int32")
    zarr_arr = zarr.core.metadata.ArrayV3Metadata.from_dict(arr.to_dict())
    with ExitStack() as stack:
        server = stack.enter_context(run_moto_server())
        opts = server.storage_options
        bucket = server.create_bucket()
        ours = S3Store(bucket, "ours", storage_options=opts)
        theirs = zarr.storage.FsspecStore.from_url(
            f"s3://{bucket}/zarr", storage_options={**opts, "asynchronous": True}
        )
        await ours.get("warm-up")
        await theirs.get("warm-up", default_buffer_prototype())

        def layout(prefix: str) -> list[str]:
            return [f"{prefix}/g{i // 100}/a{i}" for i in range(n_nodes)]

        cases: list[tuple[str, Callable[[str], Awaitable[Any]], Callable[[str], Awaitable[Any]]]]

        async def ours_hierarchy(prefix: str) -> None:
            await aapi.create_hierarchy(store=ours, nodes=dict.fromkeys(layout(prefix), arr))

        async def zarr_hierarchy(prefix: str) -> None:
            nodes: dict[str, Any] = dict.fromkeys(layout(prefix), zarr_arr)
            with zarr.config.set({"async.concurrency": 64}):
                async for _ in zarr.api.asynchronous.create_hierarchy(store=theirs, nodes=nodes):
                    pass

        async def ours_array(prefix: str) -> None:
            await aapi.create_array(ours, name=f"{prefix}/a/b/c", shape=(10,), dtype="int32")

        async def zarr_array(prefix: str) -> None:
            await zarr.api.asynchronous.create_array(
                theirs, name=f"{prefix}/a/b/c", shape=(10,), dtype="int32"
            )

        cases = [
            (f"create_hierarchy {n_nodes} nodes (S3 emulator)", ours_hierarchy, zarr_hierarchy),
            ("create_array p/a/b/c, missing parents (S3 emulator)", ours_array, zarr_array),
        ]
        run_no = 0
        for case, ours_call, zarr_call in cases:
            for library, call in (("cloudzarr", ours_call), ("zarr-python", zarr_call)):
                times = []
                requests: dict[str, int] = {}
                for _ in range(repeat):
                    run_no += 1
                    ours.requests.reset()
                    start = time.perf_counter()
                    await call(f"run{run_no}")
                    times.append(time.perf_counter() - start)
                    requests = ours.requests.snapshot()
                rows.append(
                    {
                        "case": case,
                        "library": library,
                        "seconds": _best(times),
                        "requests": requests if library == "cloudzarr" else "-",
                    }
                )
        await ours.close()
    return rows


def _ratios(rows: list[dict[str, Any]]) -> None:
    by_case: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_case.setdefault(row["case"], {})[row["library"]] = row
    for libs in by_case.values():
        ours, theirs = libs.get("cloudzarr"), libs.get("zarr-python")
        if ours and theirs and ours["seconds"] > 0:
            ours["speedup_vs_zarr"] = round(theirs["seconds"] / ours["seconds"], 1)


async def _run(
    outer: int, inner: int, arrays: int, latency: float, nodes: int, repeat: int, s3: bool
) -> list[dict[str, Any]]:
    plain, consolidated = await _build(outer, inner, arrays)
    rows = await _discovery(plain, latency, repeat, consolidated=False)
    rows += await _discovery(consolidated, latency, repeat, consolidated=True)
    rows += _parse(consolidated, repeat)
    if s3:
        rows += await _s3_writes(nodes, repeat)
    _ratios(rows)
    return rows


def run(
    outer: int = 10,
    inner: int = 10,
    arrays: int = 10,
    latency: float = 0.02,
    nodes: int = 1000,
    repeat: int = 3,
    s3: bool = True,
) -> list[dict[str, Any]]:
    """Run every case; one row per case and library (best of ``repeat`` runs)."""
    return asyncio.run(_run(outer, inner, arrays, latency, nodes, repeat, s3))


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A table of the rows."""
    lines = [
        "| case | library | seconds | speedup vs zarr | requests | peak in flight |",
        "|---|---|---:|---:|---|---:|",
    ]
    for r in rows:
        requests = r.get("requests", "")
        if isinstance(requests, dict):
            requests = ", ".join(f"{k} {v}" for k, v in sorted(requests.items()))
        lines.append(
            f"| {r['case']} | {r['library']} | {r['seconds']:.4f} | "
            f"{r.get('speedup_vs_zarr', '')} | {requests} | {r.get('peak_in_flight', '')} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.bench_hierarchy [--quick] [--no-s3]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 emulator cases")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = dict(QUICK) if args.quick else {"repeat": args.repeat}
    kwargs["latency"] = args.latency
    if args.no_s3:
        kwargs["s3"] = False
    rows = run(**kwargs)
    print(to_markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
