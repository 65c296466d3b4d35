"""One run on a real ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``.

Run as a script (the test captures its whole output, the workers' included, since they inherit
its stdout and stderr): ``python cluster_job.py '<json: bucket, storage_options>'``. It writes
and reads an array and a hierarchy on S3 through the cluster, unpickles an array 1,000 times on
the workers, counts sessions per worker, closes the cluster and prints one JSON line of results.
"""

from __future__ import annotations

import gc
import json
import pickle
import sys
import time
from typing import Any

import dask
import dask.array as da
import numpy as np


def _read_corner(blob: bytes) -> float:
    """A task that unpickles an array (as a worker does with every task naming it) and reads."""
    array = pickle.loads(blob)
    return float(array[0, 0])


def _sessions() -> dict[str, int]:
    """The shared storage clients and live aiohttp sessions this process holds."""
    import aiohttp

    from cloudzarr.storage.transport import client_count

    gc.collect()
    sessions = [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession)]
    return {
        "clients": client_count(),
        "aiohttp_sessions": len(sessions),
        "open_sessions": sum(not s.closed for s in sessions),
    }


def main(args: dict[str, Any]) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    import cloudzarr
    from cloudzarr.dask import store, to_dask
    from cloudzarr.storage.s3 import S3Store

    out: dict[str, Any] = {}
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    s3 = S3Store(args["bucket"], "job", storage_options=args["storage_options"])
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        times["cluster_start"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # 1. One sharded array: write with progress, read back with blocks on shards.
        source = da.random.RandomState(0).random((256, 96), chunks=(40, 96))
        expected = source.compute(scheduler="sync")
        arr = cloudzarr.create_array(
            s3, name="arr", shape=(256, 96), dtype="f8", chunks=(16, 48), shards=(64, 96)
        )
        reports: list[tuple[int, int]] = []
        store(source, arr, progress=lambda d, t: reports.append((d, t)))
        out["progress"] = reports
        back = to_dask(cloudzarr.open_array(s3, path="arr", mode="r"))
        out["array_blocks"] = [list(c) for c in back.chunks]
        out["array_exact"] = bool(np.array_equal(back.compute(), expected))
        out["array_mean_close"] = bool(np.isclose(float(back.mean().compute()), expected.mean()))

        times["array"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # 2. A hierarchy: arrays in nested groups, written by deferred tasks, consolidated once.
        cloudzarr.create_group(s3, path="tree")
        sources = {
            "tree/a": da.arange(1000, chunks=100).astype("i4"),
            "tree/g/b": da.ones((30, 40), chunks=(7, 40), dtype="u2") * 7,
            "tree/g/h/c": da.linspace(0, 1, 50, chunks=25),
        }
        deferred = []
        for path, src in sources.items():
            node = cloudzarr.create_array(
                s3, name=path, shape=src.shape, dtype=src.dtype, chunks=src.chunksize
            )
            deferred.append(store(src, node, compute=False))
        dask.compute(*deferred)
        cloudzarr.consolidate_metadata(s3, "tree")
        tree = cloudzarr.open_consolidated(s3, path="tree", mode="r")
        out["tree_members"] = sorted(k for k, _ in tree.members(max_depth=None))
        out["tree_exact"] = all(
            np.array_equal(to_dask(tree[p.removeprefix("tree/")]).compute(), src.compute())
            for p, src in sources.items()
        )

        times["hierarchy"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # 3. 1,000 task unpickles of one array: sessions per worker.
        blob = pickle.dumps(cloudzarr.open_array(s3, path="arr", mode="r"))
        corners = client.gather(client.map(_read_corner, [blob] * 1000, pure=False))
        out["corners_exact"] = all(c == expected[0, 0] for c in corners)
        per_worker = client.run(_sessions)
        out["sessions_per_worker"] = list(per_worker.values())
        times["unpickles"] = time.perf_counter() - t0
        t0 = time.perf_counter()
    times["cluster_close"] = time.perf_counter() - t0
    out["seconds"] = {k: round(v, 2) for k, v in times.items()}
    return out


if __name__ == "__main__":
    result = main(json.loads(sys.argv[1]))
    print("RESULT " + json.dumps(result), flush=True)
