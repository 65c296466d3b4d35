"""Small-object GET latency through each cloudzarr store against the raw fsspec call.

For each backend, one 1 KiB object is read over and over, one request at a time, alternately in
blocks through cloudzarr's store (``await store.get(key)``) and through the fsspec call a user
would make without cloudzarr, on the same server in the same event loop. The overhead is the
ratio of the medians (target: under 10 % at p50).

The raw calls, each the cheapest fsspec path to the same bytes:

=======  ==========================================================================================
memory   ``MemoryFileSystem().cat_file(path)`` (synchronous, in memory)
local    ``LocalFileSystem().cat_file(path)`` (synchronous; cloudzarr's local store reads on a
         worker thread so it never blocks the event loop, which costs a thread hop)
s3       ``S3FileSystem(max_concurrency=1)._cat_file`` on moto (one GET; s3fs's default sends
         HEAD + GET)
gcs      ``GCSFileSystem()._cat_file`` on fake-gcs-server (one GET)
azure    ``AzureBlobFileSystem()._cat_file`` on Azurite
=======  ==========================================================================================

Servers run on 127.0.0.1, started by ``moto_fixtures.servers``. Usage::

    python -m benchmarks.bench_overhead --requests 300
"""

from __future__ import annotations

import os

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

BACKENDS = ("memory", "local", "s3", "gcs", "azure")
OBJECT_SIZE = 1024
TARGET_OVERHEAD_PCT = 10.0
QUICK = {"requests": 20}
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class _Case:
    url: str
    storage_options: dict[str, Any] | None
    raw_call: str
    #: Makes the raw reader inside the running loop: returns (read(), close()).
    make_raw: Callable[
        [str], Awaitable[tuple[Callable[[], Awaitable[bytes]], Callable[[], Awaitable[None]]]]
    ]


@contextlib.contextmanager
def _backend(name: str) -> Iterator[_Case]:
    """Start what ``name`` needs and describe how to reach it both ways."""
    if name == "memory":
        yield _memory_case()
    elif name == "local":
        with tempfile.TemporaryDirectory() as root:
            yield _local_case(root)
    elif name == "s3":
        from moto_fixtures.servers import run_moto_server

        with run_moto_server() as server:
            yield _s3_case(server.create_bucket(), server.storage_options)
    elif name == "gcs":
        from moto_fixtures.servers import run_fake_gcs_server

        with run_fake_gcs_server() as server:
            yield _gcs_case(server.create_bucket(), server.storage_options)
    elif name == "azure":
        from moto_fixtures.servers import run_azurite

        with run_azurite() as server:
            yield _azure_case(server.create_container(), server.storage_options)
    else:
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")


def _sync_raw(
    fs: Any, path: str
) -> tuple[Callable[[], Awaitable[bytes]], Callable[[], Awaitable[None]]]:
    async def read() -> bytes:
        return bytes(fs.cat_file(path))

    async def close() -> None:
        return None

    return read, close


def _memory_case() -> _Case:
    name = f"overhead-{uuid.uuid4().hex[:8]}"

    async def make_raw(key: str) -> Any:
        from fsspec.implementations.memory import MemoryFileSystem

        fs = MemoryFileSystem()
        path = f"/{name}-raw/{key}"
        fs.pipe_file(path, os.urandom(OBJECT_SIZE))
        return _sync_raw(fs, path)

    return _Case(f"memory://{name}", None, "MemoryFileSystem.cat_file", make_raw)


def _local_case(root: str) -> _Case:
    async def make_raw(key: str) -> Any:
        from fsspec.implementations.local import LocalFileSystem

        return _sync_raw(LocalFileSystem(), os.path.join(root, key))

    return _Case(root, None, "LocalFileSystem.cat_file", make_raw)


def _async_raw(fs: Any, path: str, closer: Callable[[], Awaitable[None]]) -> Any:
    async def read() -> bytes:
        return bytes(await fs._cat_file(path))

    return read, closer


def _s3_case(bucket: str, options: dict[str, Any]) -> _Case:
    async def make_raw(key: str) -> Any:
        import s3fs

        fs = s3fs.S3FileSystem(asynchronous=True, max_concurrency=1, **options)
        client = await fs.set_session()

        async def close() -> None:
            await client.close()

        return _async_raw(fs, f"{bucket}/{key}", close)

    return _Case(
        f"s3://{bucket}", dict(options), "S3FileSystem(max_concurrency=1)._cat_file", make_raw
    )


def _gcs_case(bucket: str, options: dict[str, Any]) -> _Case:
    async def make_raw(key: str) -> Any:
        import gcsfs

        fs = gcsfs.GCSFileSystem(asynchronous=True, **options)
        await fs._set_session()

        async def close() -> None:
            session = getattr(fs, "_session", None)
            if session is not None:
                await session.close()

        return _async_raw(fs, f"{bucket}/{key}", close)

    return _Case(f"gs://{bucket}", dict(options), "GCSFileSystem._cat_file", make_raw)


def _azure_case(container: str, options: dict[str, Any]) -> _Case:
    async def make_raw(key: str) -> Any:
        import adlfs

        fs = adlfs.AzureBlobFileSystem(asynchronous=True, **options)

        async def close() -> None:
            client = getattr(fs, "service_client", None)
            if client is not None:
                await client.close()

        return _async_raw(fs, f"{container}/{key}", close)

    return _Case(f"az://{container}", dict(options), "AzureBlobFileSystem._cat_file", make_raw)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]


async def _measure(case: _Case, requests: int) -> dict[str, Any]:
    from cloudzarr.storage import open_store

    store = open_store(case.url, storage_options=case.storage_options)
    key = f"overhead/{uuid.uuid4().hex[:8]}"
    payload = os.urandom(OBJECT_SIZE)
    await store.set(key, payload)
    read_raw, close_raw = await case.make_raw(key)
    if case.url.startswith("memory://"):
        expected = await read_raw()
    else:
        expected = payload
    try:
        assert await store.get(key) == payload
        assert await read_raw() == expected, "the raw call read other bytes"

        async def ours() -> bytes | None:
            return await store.get(key)

        timings: dict[str, list[float]] = {"cloudzarr": [], "raw": []}
        calls: dict[str, Callable[[], Awaitable[Any]]] = {"cloudzarr": ours, "raw": read_raw}
        for _ in range(5):  # warm up connections and caches on both paths
            await ours()
            await read_raw()
        block = 10
        done = 0
        while done < requests:
            n = min(block, requests - done)
            # Alternate blocks so drift on a busy machine affects both paths alike.
            for name in ("cloudzarr", "raw"):
                call = calls[name]
                for _ in range(n):
                    start = time.perf_counter()
                    await call()
                    timings[name].append(time.perf_counter() - start)
            done += n
    finally:
        with contextlib.suppress(Exception):
            await store.delete(key)
        with contextlib.suppress(Exception):
            await close_raw()
        with contextlib.suppress(Exception):
            await store.close()
    ours_p50 = statistics.median(timings["cloudzarr"])
    raw_p50 = statistics.median(timings["raw"])
    overhead = (ours_p50 / raw_p50 - 1.0) * 100.0
    return {
        "requests": requests,
        "cloudzarr_p50_ms": ours_p50 * 1e3,
        "raw_p50_ms": raw_p50 * 1e3,
        "cloudzarr_p99_ms": _percentile(timings["cloudzarr"], 0.99) * 1e3,
        "raw_p99_ms": _percentile(timings["raw"], 0.99) * 1e3,
        "overhead_pct": overhead,
        "added_us": (ours_p50 - raw_p50) * 1e6,
        "under_target": overhead < TARGET_OVERHEAD_PCT,
    }


def run(requests: int = 300, *, backends: Sequence[str] = BACKENDS) -> list[dict[str, Any]]:
    """Measure every backend (in a child process) and return one row each.

    Parameters
    ----------
    requests
        GETs per path (cloudzarr and raw) per backend.
    backends
        A subset of :data:`BACKENDS`.

    Returns
    -------
    list of dict
        Rows with ``benchmark``, ``backend``, ``raw_call``, ``requests``, ``cloudzarr_p50_ms``,
        ``raw_p50_ms``, ``cloudzarr_p99_ms``, ``raw_p99_ms``, ``overhead_pct`` (p50 ratio - 1),
        ``added_us`` (p50 difference) and ``under_target`` (overhead under 10 %).

    Raises
    ------
    RuntimeError
        If a backend's run fails; the message holds its output.
    """
    if requests < 1:
        raise ValueError(f"requests must be at least 1, got {requests}")
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise ValueError(f"unknown backends {unknown}; choose from {', '.join(BACKENDS)}")
    # One child process measures every backend: the client libraries' exit-time clean-up
    # (adlfs's needs a loop that is gone by then) stays out of the caller's process.
    command = [sys.executable, "-m", "benchmarks.bench_overhead", "--worker", ",".join(backends)]
    command += ["--requests", str(requests)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=_ROOT, check=False)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(rows) != len(backends):
        raise RuntimeError(
            f"the overhead benchmark failed (exit {done.returncode}) after "
            f"{len(rows)} of {len(backends)} backends:\n{done.stdout}\n{done.stderr[-4000:]}"
        )
    return rows


def _worker(name: str, requests: int) -> dict[str, Any]:
    with _backend(name) as case:
        result = asyncio.run(_measure(case, requests))
    return {"benchmark": "overhead", "backend": name, "raw_call": case.raw_call, **result}


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    lines = [
        "| backend | raw fsspec call | requests | cloudzarr p50 ms | raw p50 ms | cloudzarr p99 ms "
        "| raw p99 ms | overhead at p50 | added |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = "" if r["under_target"] else " (over 10 %)"
        lines.append(
            f"| {r['backend']} | `{r['raw_call']}` | {r['requests']} | {r['cloudzarr_p50_ms']:.3f} "
            f"| {r['raw_p50_ms']:.3f} | {r['cloudzarr_p99_ms']:.3f} | {r['raw_p99_ms']:.3f} "
            f"| {r['overhead_pct']:+.1f} %{mark} | {r['added_us']:+.0f} us |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the markdown table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--worker", metavar="BACKENDS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        for name in args.worker.split(","):
            print(json.dumps(_worker(name, args.requests)), flush=True)
        # Skip interpreter clean-up: adlfs's exit-time finalizers need a loop that is gone.
        os._exit(0)
    rows = run(args.requests, backends=[b for b in args.backends.split(",") if b])
    print(to_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
