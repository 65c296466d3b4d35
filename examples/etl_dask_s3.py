"""ETL on dask.distributed with cloudzarr: a multi-variable dataset written to S3 by region.

The pattern, at any size:

1. Describe the output lazily (dask-backed xarray Dataset) and write its *template* once with
   ``cloudzarr.xarray.to_zarr(template, url, compute=False)``: all metadata, the coordinates and
   the consolidated metadata, in a few requests. No variable data is written.
2. Split the time axis into regions aligned to the stored shards, and let the cluster's workers
   each compute and write their regions (``to_zarr(part, url, region={"time": ...})``). Aligned
   regions mean each shard has exactly one writer: nothing is read-modified-written, nothing
   is lost; a misaligned region would be refused with ``UnsafeWriteError``.
3. Reopen with xarray, ``engine="cloudzarr"`` (consolidated metadata: one request), and reduce
   on the cluster.

Run it against a local moto server it starts itself::

    python examples/etl_dask_s3.py --times 96 --lat 90 --lon 180

or against real S3 with ``--url s3://bucket/prefix`` (credentials from the environment: a
pickled cloudzarr store carries its ``storage_options``, so leave keys out of them and let each
worker find ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or its instance role).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

VARIABLES = ("temperature", "precipitation")


def field(name: str, t0: int, n: int, ny: int, nx: int) -> np.ndarray:
    """The values of variable ``name`` for times ``t0 .. t0+n`` (deterministic, float32)."""
    t = np.arange(t0, t0 + n, dtype="f8")[:, None, None]
    lat = np.linspace(-89.5, 89.5, ny)[None, :, None]
    lon = np.linspace(0, 359, nx)[None, None, :]
    if name == "temperature":
        values = 288 + 15 * np.cos(np.radians(lat)) + 5 * np.sin(2 * np.pi * t / 24 + lon / 57)
    else:
        values = np.maximum(0, np.sin(t / 7 + np.radians(lat) * 3) * np.cos(np.radians(lon)))
    return values.astype("f4")


def template(nt: int, ny: int, nx: int, shard_t: int) -> xr.Dataset:
    """The output dataset, lazily: dask blocks of one shard each, never computed here."""
    coords = {
        "time": pd.date_range("2026-01-01", periods=nt, freq="h"),
        "lat": np.linspace(-89.5, 89.5, ny),
        "lon": np.linspace(0, 359, nx),
    }
    data = {
        name: (("time", "lat", "lon"), da.zeros((nt, ny, nx), chunks=(shard_t, ny, nx), dtype="f4"))
        for name in VARIABLES
    }
    ds = xr.Dataset(data, coords=coords, attrs={"title": "cloudzarr ETL example"})
    ds["elevation"] = (("lat", "lon"), np.outer(np.cos(np.radians(coords["lat"])), np.ones(nx)))
    ds["temperature"].attrs = {"units": "K"}
    ds["precipitation"].attrs = {"units": "mm/h"}
    return ds


def write_region(
    url: str, storage_options: dict[str, Any], t0: int, n: int, ny: int, nx: int
) -> int:
    """One worker's job: compute the variables for ``time[t0:t0+n]`` and write that region."""
    from cloudzarr.xarray import to_zarr

    times = pd.date_range("2026-01-01", periods=t0 + n, freq="h")[t0:]
    part = xr.Dataset(
        {name: (("time", "lat", "lon"), field(name, t0, n, ny, nx)) for name in VARIABLES},
        coords={"time": times},
    )
    to_zarr(part, url, region={"time": slice(t0, t0 + n)}, storage_options=storage_options)
    return n


def run(
    url: str,
    storage_options: dict[str, Any],
    *,
    nt: int,
    ny: int,
    nx: int,
    shard_t: int,
    chunk_t: int,
    workers: int = 2,
) -> dict[str, Any]:
    """The whole ETL; returns what it measured and checked."""
    from distributed import Client, LocalCluster

    from cloudzarr.xarray import to_zarr

    report: dict[str, Any] = {"bytes": 4 * nt * ny * nx * len(VARIABLES)}
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter()
        encoding = {
            name: {"chunks": (chunk_t, ny, nx), "shards": (shard_t, ny, nx)} for name in VARIABLES
        }
        encoding["time"] = {"chunks": (shard_t,)}  # rewritten by each region: aligned too
        to_zarr(
            template(nt, ny, nx, shard_t),
            url,
            mode="w",
            compute=False,
            encoding=encoding,
            storage_options=storage_options,
        )
        report["template_s"] = round(time.perf_counter() - start, 3)

        start = time.perf_counter()
        starts = range(0, nt, shard_t)
        futures = client.map(
            write_region,
            [url] * len(starts),
            [storage_options] * len(starts),
            list(starts),
            [min(shard_t, nt - s) for s in starts],
            [ny] * len(starts),
            [nx] * len(starts),
        )
        report["regions"] = len(client.gather(futures))
        report["write_s"] = round(time.perf_counter() - start, 3)

        start = time.perf_counter()
        ds = xr.open_dataset(url, engine="cloudzarr", storage_options=storage_options, chunks={})
        means = {name: float(ds[name].mean().compute()) for name in VARIABLES}
        report["read_mean_s"] = round(time.perf_counter() - start, 3)
        report["means"] = means
        report["exact"] = all(
            np.array_equal(ds[name].values, field(name, 0, nt, ny, nx)) for name in VARIABLES
        )
        report["dask_blocks"] = [len(c) for c in ds["temperature"].chunks]
    return report


@contextlib.contextmanager
def local_s3() -> Iterator[tuple[str, dict[str, Any]]]:
    """A moto S3 server on loopback with a fresh bucket (the project's test servers)."""
    from moto_fixtures.servers import run_moto_server

    with run_moto_server() as server:
        yield f"s3://{server.create_bucket()}/etl.zarr", server.storage_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="s3://bucket/prefix (default: a local moto server)")
    parser.add_argument("--endpoint-url", help="S3 endpoint for --url (credentials from env)")
    parser.add_argument("--times", type=int, default=96)
    parser.add_argument("--lat", type=int, default=90)
    parser.add_argument("--lon", type=int, default=180)
    parser.add_argument("--shard-time", type=int, default=24)
    parser.add_argument("--chunk-time", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sizes = {
        "nt": args.times,
        "ny": args.lat,
        "nx": args.lon,
        "shard_t": args.shard_time,
        "chunk_t": args.chunk_time,
        "workers": args.workers,
    }
    if args.url:
        options = {"endpoint_url": args.endpoint_url} if args.endpoint_url else {}
        report = run(args.url, options, **sizes)
    else:
        with local_s3() as (url, options):
            report = run(url, options, **sizes)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
