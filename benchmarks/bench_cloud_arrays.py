"""Array reads and writes on an S3 server: cloudzarr vs zarr-python + obstore vs tensorstore.

Workloads (issue 11), float32, zstd level 1, each library with its own defaults:

- **W1** read a whole array of 256 chunks (16 x 16; 1 MiB chunks at the full 256 MiB);
- **W2** write the same;
- **W3** read a whole sharded array: 4 shards (2 x 2) of 64 inner chunks (8 x 8) each;
- **W4** 1,000 concurrent one-chunk slices over 253 distinct chunks of a 16 x 16 grid (at full
  size a 4096^2 array of 256^2 chunks).

``floor`` is no Zarr library: obstore for HTTP and numcodecs' Zstd on a pool of two threads,
fetching and decoding each stored object once; what the workload costs at least on this
machine. Every (library, workload) case runs in a fresh subprocess, repeated ``--repeat`` times,
libraries alternating; the median time is reported with the largest peak memory (growth of the
resident set during the operation, as in ``bench_arrays.py``), and each library's time as a
ratio to cloudzarr's (above 1: slower than cloudzarr) and to the floor.

The server: ``--endpoint`` (any S3: moto, radosgw, MinIO) with ``--key`` / ``--secret``; the
default starts moto on loopback (fine for a smoke run, not for figures: moto serves about 150
requests/s). ``--radosgw`` starts Ceph radosgw with ``scripts/radosgw.sh``. ``--latency-ms``
(default 10) puts the latency proxy (``cloudzarr.tools.proxy``) between clients and server,
adding that much each way.

Usage::

    python benchmarks/bench_cloud_arrays.py --radosgw --size 256MiB --repeat 6
    python benchmarks/bench_cloud_arrays.py --endpoint http://127.0.0.1:9000 --key K --secret S
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_arrays import _measure, parse_size

LIBRARIES = ("cloudzarr", "zarr-obstore", "tensorstore", "floor")
WORKLOADS = ("W1", "W2", "W3", "W4")
FULL_SIZE = 256 * 2**20
GRID = 16  # chunks per side (W1, W2, W4)
READERS, DISTINCT = 1000, 253
REGION = "us-east-1"


def layout(workload: str, nbytes: int) -> dict[str, Any]:
    """Shape, chunks, shards and path of a workload's array for a W1 size of ``nbytes``."""
    # W4's array is a quarter of W1's (64 MiB at full size: 4096^2 float32).
    per_chunk = nbytes // (GRID * GRID) // (4 if workload == "W4" else 1)
    side = max(8, math.isqrt(per_chunk // 4))
    shape = (GRID * side, GRID * side)
    shards = (GRID * side // 2, GRID * side // 2) if workload == "W3" else None
    path = {"W1": "w1", "W2": "w2", "W3": "w3", "W4": "w4"}[workload]
    return {"shape": shape, "chunks": (side, side), "shards": shards, "path": path}


def make_data(shape: tuple[int, ...]) -> Any:
    """Smooth float32 values that zstd compresses about as well as measured data."""
    import numpy as np

    rows = np.linspace(0, 20, shape[0], dtype=np.float32)[:, None]
    cols = np.linspace(0, 30, shape[1], dtype=np.float32)[None, :]
    return (np.sin(rows) * np.cos(cols) * 100).astype(np.float32)


def w4_selections(chunk: int) -> list[tuple[slice, slice]]:
    """1,000 one-chunk slices over exactly 253 distinct chunks (fixed seed)."""
    import numpy as np

    rng = np.random.default_rng(11)
    coords = rng.permutation(GRID * GRID)[:DISTINCT]
    picks = np.concatenate([coords, rng.choice(coords, READERS - DISTINCT)])
    rng.shuffle(picks)
    out = []
    for flat in picks:
        i, j = divmod(int(flat), GRID)
        out.append((slice(i * chunk, (i + 1) * chunk), slice(j * chunk, (j + 1) * chunk)))
    return out


# --- the libraries (run in a worker subprocess) -------------------------------------------------


def _storage_options(server: dict[str, str]) -> dict[str, Any]:
    return {
        "endpoint_url": server["endpoint"],
        "key": server["key"],
        "secret": server["secret"],
        "client_kwargs": {"region_name": REGION},
    }


def _obstore(server: dict[str, str]) -> Any:
    from obstore.store import S3Store

    return S3Store(
        server["bucket"],
        endpoint=server["endpoint"],
        access_key_id=server["key"],
        secret_access_key=server["secret"],
        region=REGION,
        client_options={"allow_http": True},
        virtual_hosted_style_request=False,
    )


def _cloudzarr(workload: str, server: dict[str, str], spec: dict[str, Any], data: Any) -> Any:
    import asyncio

    import cloudzarr
    from cloudzarr.api import asynchronous as aapi

    url = f"s3://{server['bucket']}/{spec['path']}"
    options = _storage_options(server)
    if workload == "W2":
        arr = cloudzarr.open_array(
            url + "-cloudzarr",
            mode="w",
            shape=spec["shape"],
            chunks=spec["chunks"],
            dtype="f4",
            compressors={"name": "zstd", "configuration": {"level": 1}},
            storage_options=options,
        )

        def write() -> None:
            arr[...] = data

        return write
    if workload == "W4":
        sels = w4_selections(spec["chunks"][0])
        # Opened outside the timed call, as tensorstore's array is: only the reads are timed.
        loop = asyncio.new_event_loop()
        arr = loop.run_until_complete(aapi.open_array(url, mode="r", storage_options=options))

        async def many() -> int:
            before = arr.store.requests.total
            await asyncio.gather(*(arr.getitem(s) for s in sels))
            return int(arr.store.requests.total - before)

        return lambda: loop.run_until_complete(many())
    arr = cloudzarr.open_array(url, mode="r", storage_options=options)
    return lambda: arr[...]


def _zarr(workload: str, server: dict[str, str], spec: dict[str, Any], data: Any) -> Any:
    import asyncio

    import zarr
    from zarr.codecs import ZstdCodec
    from zarr.storage import ObjectStore

    store = ObjectStore(_obstore(server), read_only=workload != "W2")
    if workload == "W2":
        arr = zarr.create_array(
            store,
            name=spec["path"] + "-zarr",
            shape=spec["shape"],
            chunks=spec["chunks"],
            dtype="f4",
            compressors=ZstdCodec(level=1),
            overwrite=True,
        )

        def write() -> None:
            arr[...] = data

        return write
    if workload == "W4":
        sels = w4_selections(spec["chunks"][0])
        loop = asyncio.new_event_loop()
        arr = loop.run_until_complete(
            zarr.api.asynchronous.open_array(store=store, path=spec["path"], mode="r")
        )

        async def many() -> None:
            await asyncio.gather(*(arr.getitem(s) for s in sels))

        return lambda: loop.run_until_complete(many())
    arr = zarr.open_array(store, path=spec["path"], mode="r")
    return lambda: arr[...]


def _tensorstore(workload: str, server: dict[str, str], spec: dict[str, Any], data: Any) -> Any:
    import tensorstore as ts

    os.environ.update(
        AWS_ACCESS_KEY_ID=server["key"],
        AWS_SECRET_ACCESS_KEY=server["secret"],
        AWS_REGION=REGION,
    )
    path = spec["path"] + ("-tensorstore" if workload == "W2" else "")
    kvstore = {
        "driver": "s3",
        "bucket": server["bucket"],
        "endpoint": server["endpoint"],
        "aws_region": REGION,
        "path": path + "/",
    }
    if workload == "W2":
        metadata = {
            "shape": list(spec["shape"]),
            "data_type": "float32",
            "chunk_grid": {
                "name": "regular",
                "configuration": {"chunk_shape": list(spec["chunks"])},
            },
            "codecs": [{"name": "bytes"}, {"name": "zstd", "configuration": {"level": 1}}],
            "fill_value": 0,
        }
        arr = ts.open(
            {"driver": "zarr3", "kvstore": kvstore, "metadata": metadata},
            create=True,
            delete_existing=True,
        ).result()
        return lambda: arr.write(data).result()
    arr = ts.open({"driver": "zarr3", "kvstore": kvstore}, read=True).result()
    if workload == "W4":
        sels = w4_selections(spec["chunks"][0])

        def many() -> None:
            futures = [arr[s].read() for s in sels]
            for f in futures:
                f.result()

        return many
    return lambda: arr.read().result()


def _floor(workload: str, server: dict[str, str], spec: dict[str, Any], data: Any) -> Any:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import numcodecs
    import numpy as np
    import obstore

    store = _obstore(server)
    zstd = numcodecs.Zstd(level=1)
    pool = ThreadPoolExecutor(2)
    shape, (c, _) = spec["shape"], spec["chunks"]
    grid = shape[0] // c

    async def on_pool(func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, func, *args)

    def place(raw: bytes, out: Any, i: int, j: int) -> None:
        out[i * c : (i + 1) * c, j * c : (j + 1) * c] = np.frombuffer(
            zstd.decode(raw), dtype="<f4"
        ).reshape(c, c)

    async def read_chunk(out: Any, i: int, j: int) -> None:
        key = f"{spec['path']}/c/{i}/{j}"
        raw = await (await obstore.get_async(store, key)).bytes_async()
        await on_pool(place, bytes(raw), out, i, j)

    async def write_chunk(i: int, j: int) -> None:
        block = np.ascontiguousarray(data[i * c : (i + 1) * c, j * c : (j + 1) * c])
        encoded = await on_pool(zstd.encode, block)
        await obstore.put_async(store, f"{spec['path']}-floor/c/{i}/{j}", bytes(encoded))

    async def read_shard(out: Any, si: int, sj: int) -> None:
        raw = bytes(
            await (await obstore.get_async(store, f"{spec['path']}/c/{si}/{sj}")).bytes_async()
        )
        inner = spec["shards"][0] // c
        index = np.frombuffer(raw[-(inner * inner * 16 + 4) : -4], dtype="<u8").reshape(-1, 2)

        def decode(rows: range) -> None:
            for flat in rows:
                off, n = (int(v) for v in index[flat])
                i, j = divmod(flat, inner)
                place(raw[off : off + n], out, si * inner + i, sj * inner + j)

        half = inner * inner // 2
        await asyncio.gather(
            on_pool(decode, range(0, half)), on_pool(decode, range(half, inner * inner))
        )

    async def run() -> Any:
        if workload == "W2":
            await asyncio.gather(*(write_chunk(i, j) for i in range(grid) for j in range(grid)))
            return None
        out = np.empty(shape, dtype="f4")
        if workload == "W3":
            await asyncio.gather(*(read_shard(out, i, j) for i in range(2) for j in range(2)))
        elif workload == "W4":
            sels = w4_selections(c)
            wanted = {(s[0].start // c, s[1].start // c) for s in sels}
            await asyncio.gather(*(read_chunk(out, i, j) for i, j in wanted))
            return [out[s].copy() for s in sels]
        else:
            await asyncio.gather(*(read_chunk(out, i, j) for i in range(grid) for j in range(grid)))
        return out

    return lambda: asyncio.run(run())


OPENERS = {
    "cloudzarr": _cloudzarr,
    "zarr-obstore": _zarr,
    "tensorstore": _tensorstore,
    "floor": _floor,
}


def _worker(lib: str, workload: str, server: dict[str, str], nbytes: int) -> dict[str, Any]:
    spec = layout(workload, nbytes)
    data = make_data(spec["shape"]) if workload == "W2" else None
    func = OPENERS[lib](workload, server, spec, data)
    seconds, cpu, peak, result = _measure(func)
    row: dict[str, Any] = {"seconds": seconds, "cpu": cpu, "peak": peak}
    if lib == "cloudzarr" and workload == "W4":
        row["requests"] = result
    return row


# --- the server, setup and the driver ------------------------------------------------------------


@contextlib.contextmanager
def _moto() -> Iterator[dict[str, str]]:
    from moto_fixtures.servers import run_moto_server

    with run_moto_server() as server:
        bucket = server.create_bucket("bench")
        yield {
            "endpoint": server.endpoint_url,
            "key": server.key,
            "secret": server.secret,
            "bucket": bucket,
        }


@contextlib.contextmanager
def _radosgw() -> Iterator[dict[str, str]]:
    script = Path(__file__).resolve().parents[1] / "scripts" / "radosgw.sh"
    env = {**os.environ, "PYTHON": sys.executable}  # the script creates the bucket with boto3
    out = subprocess.run(
        [str(script), "start"], stdout=subprocess.PIPE, text=True, env=env, check=True
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    try:
        yield info
    finally:
        subprocess.run([str(script), "stop"], env=env, check=False)


def _setup(server: dict[str, str], nbytes: int) -> None:
    """Write the arrays the read workloads read, with cloudzarr (zarr-python reads them too)."""
    import cloudzarr
    from cloudzarr.storage import open_store
    from cloudzarr.sync import sync

    store = open_store(f"s3://{server['bucket']}", storage_options=_storage_options(server))
    try:
        for workload in ("W1", "W3", "W4"):
            spec = layout(workload, nbytes)
            arr = cloudzarr.open_array(
                store,
                path=spec["path"],
                mode="w",
                shape=spec["shape"],
                chunks=spec["chunks"],
                shards=spec["shards"],
                dtype="f4",
                compressors={"name": "zstd", "configuration": {"level": 1}},
            )
            arr[...] = make_data(spec["shape"])
    finally:
        sync(store.close())


def _run_case(lib: str, workload: str, server: dict[str, str], nbytes: int) -> dict[str, Any]:
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--worker", lib, workload, json.dumps(server), str(nbytes)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"case {lib}/{workload} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run(
    server: dict[str, str],
    size: str | int = FULL_SIZE,
    *,
    repeat: int = 3,
    libraries: Sequence[str] = LIBRARIES,
    workloads: Sequence[str] = WORKLOADS,
    latency_ms: float = 10.0,
) -> list[dict[str, Any]]:
    """Run every (library, workload) case against ``server``; one row per case.

    Rows: ``library``, ``workload``, ``seconds`` (median), ``peak_mib`` (largest), ``runs``,
    ``x_cloudzarr`` (time / cloudzarr's), ``x_floor`` (time / the floor's), and for cloudzarr
    on W4 ``requests``.
    """
    from cloudzarr.tools.proxy import run_latency_proxy

    nbytes = parse_size(size)
    _setup(server, nbytes)
    target = urlparse(server["endpoint"])
    with contextlib.ExitStack() as stack:
        endpoint = server["endpoint"]
        if latency_ms > 0:
            proxy = stack.enter_context(
                run_latency_proxy(
                    target.hostname or "127.0.0.1", target.port or 80, delay=latency_ms / 1000
                )
            )
            endpoint = proxy.url
        proxied = {**server, "endpoint": endpoint}
        samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(repeat):
            for workload in workloads:
                for lib in libraries:  # alternating, so a noisy machine hits all alike
                    samples.setdefault((lib, workload), []).append(
                        _run_case(lib, workload, proxied, nbytes)
                    )
    rows = []
    for (lib, workload), runs in samples.items():
        row: dict[str, Any] = {
            "library": lib,
            "workload": workload,
            "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_mib": max(r["peak"] for r in runs) / 2**20,
            "runs": len(runs),
        }
        if "requests" in runs[-1]:
            row["requests"] = runs[-1]["requests"]
        rows.append(row)
    by = {(r["library"], r["workload"]): r["seconds"] for r in rows}
    for row in rows:
        cz, fl = by.get(("cloudzarr", row["workload"])), by.get(("floor", row["workload"]))
        if cz:
            row["x_cloudzarr"] = row["seconds"] / cz
        if fl:
            row["x_floor"] = row["seconds"] / fl
    return rows


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    lines = [
        "| workload | library | seconds | peak MiB | / cloudzarr | / floor | requests |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["workload"], LIBRARIES.index(r["library"]))):
        lines.append(
            f"| {r['workload']} | {r['library']} | {r['seconds']:.3f} | {r['peak_mib']:.0f} | "
            f"{r.get('x_cloudzarr', 0):.2f} | {r.get('x_floor', 0):.2f} | "
            f"{r.get('requests', '')} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256MiB", help="W1's array size (256MiB, 4MiB...)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--endpoint", help="an S3 endpoint (default: moto on loopback)")
    parser.add_argument("--key", default=os.environ.get("AWS_ACCESS_KEY_ID", ""))
    parser.add_argument("--secret", default=os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    parser.add_argument("--bucket", default="bench")
    parser.add_argument("--radosgw", action="store_true", help="start radosgw (scripts/)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        lib, workload, server, nbytes = args.worker
        print(json.dumps(_worker(lib, workload, json.loads(server), int(nbytes))))
        return 0
    if args.endpoint:
        server_cm: Any = contextlib.nullcontext(
            {
                "endpoint": args.endpoint,
                "key": args.key,
                "secret": args.secret,
                "bucket": args.bucket,
            }
        )
    else:
        server_cm = _radosgw() if args.radosgw else _moto()
    load = os.getloadavg()[0]
    started = time.time()
    with server_cm as server:
        rows = run(
            server,
            args.size,
            repeat=args.repeat,
            libraries=args.libraries.split(","),
            workloads=args.workloads.split(","),
            latency_ms=args.latency_ms,
        )
    print(to_markdown(rows))
    print(f"\nload average at start {load:.2f}; {time.time() - started:.0f} s in all")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
