"""dask on S3 (moto): ``store`` then ``mean`` of a float32 array, processes vs threads, cloudzarr
vs xarray + zarr-python, in one run.

Cases, each on a fresh bucket of one moto server (a separate process on loopback):

- ``cloudzarr``: ``cloudzarr.dask.store(x, array)`` (shard-safe plan) into an array on
  ``S3Store``; then ``cloudzarr.dask.to_dask(array).mean()``.
- ``zarr``: ``xr.Dataset({"v": x}).to_zarr("s3://...")`` (zarr-python 3.4.2 on s3fs); then
  ``xr.open_zarr(...).v.mean()``.

each on two schedulers: ``threads`` (dask's threaded scheduler, one thread per core) and
``processes`` (a ``distributed.LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)``, the same cluster for both libraries). The source is
``dask.array.random`` float32 in blocks of one stored chunk (4 MiB), zstd level 0 (both
libraries' default), so the libraries do the same codec work; its generation is part of the
``store`` time for every case alike.

Reported per (library, scheduler, operation): best wall-clock of the repeats, MB/s, the client
process's peak resident growth, ``x threads`` (processes / threads, same library: the target is
at most 1.5) and ``speedup`` (zarr-python's time / cloudzarr's, same scheduler: at least 1).
moto serves about 150 requests/s on two cores, so absolute figures are moto's, not S3's.
The "Unclosed client session" lines a run may print come from s3fs under zarr-python (cloudzarr's
S3 store has no aiohttp session).

Usage::

    python benchmarks/bench_dask.py --size 512MiB --repeat 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_arrays import _reset_peak, _status_kib, parse_size

LIBRARIES = ("cloudzarr", "zarr")
SCHEDULERS = ("threads", "processes")
OPERATIONS = ("store", "mean")
FULL_SIZE = 512 * 2**20
PLANE = (1024, 1024)  # one chunk: 1 x 1024 x 1024 float32 = 4 MiB

QUICK: dict[str, Any] = {"size": "4MiB", "repeat": 1}


def array_shape(nbytes: int) -> tuple[int, int, int]:
    """``(n, 1024, 1024)`` float32 of about ``nbytes`` (smaller planes below 4 MiB)."""
    plane = PLANE
    while plane[0] * plane[1] * 4 > nbytes and plane[0] > 8:
        plane = (plane[0] // 2, plane[1] // 2)
    return (max(1, nbytes // (plane[0] * plane[1] * 4)), *plane)


def _source(shape: tuple[int, ...]) -> Any:
    import dask.array as da

    chunks = (1, *shape[1:])
    return da.random.RandomState(0).random(shape, chunks=chunks).astype("f4")


def _cloudzarr_case(url: str, options: dict[str, Any], shape: tuple[int, ...]) -> Any:
    import cloudzarr
    from cloudzarr.dask import store, to_dask

    def write() -> None:
        arr = cloudzarr.create_array(
            url, shape=shape, dtype="f4", chunks=(1, *shape[1:]), storage_options=options
        )
        store(_source(shape), arr)

    def mean() -> float:
        arr = cloudzarr.open_array(url, mode="r", storage_options=options)
        return float(to_dask(arr).mean().compute())

    return write, mean


def _zarr_case(url: str, options: dict[str, Any], shape: tuple[int, ...]) -> Any:
    import xarray as xr

    def write() -> None:
        ds = xr.Dataset({"v": (("t", "y", "x"), _source(shape))})
        ds.to_zarr(
            url,
            mode="w",
            zarr_format=3,
            consolidated=False,
            storage_options=options,
            encoding={"v": {"chunks": (1, *shape[1:])}},
        )

    def mean() -> float:
        ds = xr.open_zarr(url, storage_options=options, consolidated=False, zarr_format=3)
        return float(ds.v.mean().compute())

    return write, mean


def _measure(func: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak resident growth of this process in bytes, result)."""
    import gc

    gc.collect()
    can_reset = _reset_peak()
    before = _status_kib("VmRSS") or 0
    t0 = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - t0
    hwm = _status_kib("VmHWM") if can_reset else None
    peak = max((hwm or before) - before, 0) * 1024.0
    return seconds, peak, result


def _cases(
    server: Any, scheduler: str, libraries: Sequence[str], shape: tuple[int, ...], repeat: int
) -> list[dict[str, Any]]:
    import numpy as np

    rows = []
    nbytes = int(np.prod(shape)) * 4
    # Warm-up, not measured: imports, worker start-up and first connections on every worker.
    for lib in libraries:
        url = f"s3://{server.create_bucket()}/warm.zarr"
        for func in (_cloudzarr_case if lib == "cloudzarr" else _zarr_case)(
            url, dict(server.storage_options), (4, 64, 64)
        ):
            func()
    server.reset()
    for i in range(repeat):
        for lib in libraries:
            bucket = server.create_bucket()
            url = f"s3://{bucket}/bench.zarr"
            options = dict(server.storage_options)
            write, mean = (_cloudzarr_case if lib == "cloudzarr" else _zarr_case)(
                url, options, shape
            )
            for op, func in (("store", write), ("mean", mean)):
                seconds, peak, result = _measure(func)
                rows.append(
                    {
                        "library": lib,
                        "scheduler": scheduler,
                        "operation": op,
                        "repeat": i,
                        "shape": list(shape),
                        "nbytes": nbytes,
                        "seconds": seconds,
                        "peak_bytes": peak,
                        "mean": result if op == "mean" else None,
                    }
                )
            server.reset()  # moto keeps objects in memory: free them between cases
    return rows


def run(
    size: str | int = FULL_SIZE,
    *,
    repeat: int = 1,
    libraries: Sequence[str] = LIBRARIES,
    schedulers: Sequence[str] = SCHEDULERS,
    workers: int = 2,
) -> list[dict[str, Any]]:
    """Run every case; return the best row per (library, scheduler, operation) with ratios."""
    import dask
    from distributed import Client, LocalCluster

    from moto_fixtures.servers import run_moto_server

    shape = array_shape(parse_size(size))
    rows: list[dict[str, Any]] = []
    with run_moto_server() as server:
        if "threads" in schedulers:
            with dask.config.set(scheduler="threads", num_workers=workers):
                rows += _cases(server, "threads", libraries, shape, repeat)
        if "processes" in schedulers:
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                ) as cluster,
                Client(cluster),
            ):
                rows += _cases(server, "processes", libraries, shape, repeat)
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["library"], row["scheduler"], row["operation"])
        if key not in best or row["seconds"] < best[key]["seconds"]:
            peak = max(row["peak_bytes"], best.get(key, row)["peak_bytes"])
            best[key] = {**row, "peak_bytes": peak}
    out = list(best.values())
    for row in out:
        threads = best.get((row["library"], "threads", row["operation"]))
        if row["scheduler"] == "processes" and threads is not None:
            row["x_threads"] = row["seconds"] / threads["seconds"]
        zarr = best.get(("zarr", row["scheduler"], row["operation"]))
        if row["library"] == "cloudzarr" and zarr is not None:
            row["speedup"] = zarr["seconds"] / row["seconds"]
    return out


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    lines = [
        "| library | scheduler | operation | shape | seconds | MB/s | peak MiB | x threads "
        "| speedup |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        speed = r["nbytes"] / r["seconds"] / 1e6 if r["seconds"] else float("inf")
        x_threads = f"{r['x_threads']:.2f}" if "x_threads" in r else ""
        speedup = f"{r['speedup']:.2f}x" if "speedup" in r else ""
        shape = "x".join(str(n) for n in r["shape"])
        lines.append(
            f"| {r['library']} | {r['scheduler']} | {r['operation']} | {shape} "
            f"| {r['seconds']:.2f} | {speed:.0f} | {r['peak_bytes'] / 2**20:.1f} | {x_threads} "
            f"| {speedup} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the markdown table (and optionally write JSON rows)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="512MiB")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--schedulers", default=",".join(SCHEDULERS))
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = run(
        args.size,
        repeat=args.repeat,
        libraries=[s for s in args.libraries.split(",") if s],
        schedulers=[s for s in args.schedulers.split(",") if s],
    )
    print(to_markdown(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
