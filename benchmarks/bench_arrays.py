"""Read and write a float32 array (zstd, 64^3 chunks) with cloudzarr and zarr-python 3.4.2.

Every (library, store) case runs in a fresh subprocess, which writes the whole array then reads it
back twice: a cold pass (the process's first touch of fresh memory, which on small virtual
machines costs as much as the codec work, thread pools starting) and a warm one. ``seconds`` and
``speedup`` are the warm pass's, ``cold s`` and ``cold speedup`` the cold one's. Time is
wall-clock per operation; peak memory is the growth of the process's resident set
during the operation: the kernel's high-water mark (``VmHWM``) is reset through
``/proc/self/clear_refs`` just before the operation and compared with the resident set at that
moment. A write's figure therefore excludes the input array (it exists before) but includes what
the store keeps (the compressed chunks, for the memory store); a read's includes its output.

A third case, ``floor``, is no Zarr library at all: the same chunks compressed (or decompressed)
by numcodecs' Zstd directly, one chunk per task on a pool of one thread per core, kept in a dict
or written to one file each. It is the least time this codec can take on this machine, so no
library can beat it; ``x floor`` reports each library's time as a multiple of it, and the largest
speedup over zarr-python that any library could reach is zarr-python's ``x floor``.

Cases of the libraries alternate and each is repeated, so a noisy machine affects both alike;
the best time of the repeats is reported (with the largest peak memory seen, cold or warm).

Usage::

    python benchmarks/bench_arrays.py --size 256MiB --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

LIBRARIES = ("cloudzarr", "zarr", "floor")
STORES = ("memory", "local")
OPERATIONS = ("write", "read")
FULL_SIZE = 256 * 2**20
CHUNK = 64

_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kib": 2**10,
    "m": 2**20,
    "mib": 2**20,
    "g": 2**30,
    "gib": 2**30,
}


def parse_size(size: str | int) -> int:
    """Bytes from ``"256MiB"``, ``"1m"``, ``"4096"`` or an int."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", size)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"cannot parse size {size!r} (try 256MiB, 1MiB, 65536)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def array_shape(nbytes: int) -> tuple[int, int, int]:
    """A 3-d float32 shape of about ``nbytes``: ``(256, 512, 512)`` for 256 MiB."""
    elements = max(nbytes // 4, 1)
    side = 1
    while (2 * side) ** 3 <= 2 * elements:  # the largest power of two with side^3 <= 2x
        side *= 2
    return (max(elements // (side * side), 1), side, side)


def make_data(shape: tuple[int, ...]) -> Any:
    """A smooth float32 field with noise rounded to 3 decimals (compresses about 2:1 with zstd).

    Built slab by slab so no temporary larger than a slab exists (the peak-memory baseline).
    """
    import numpy as np

    out = np.empty(shape, dtype=np.float32)
    rng = np.random.default_rng(0)
    plane = int(np.prod(shape[1:]))
    base = np.arange(plane, dtype=np.float32).reshape(shape[1:]) / np.float32(1000.0)
    for i in range(shape[0]):
        slab = np.sin(base + np.float32(i * plane / 1000.0))
        slab += rng.standard_normal(shape[1:], dtype=np.float32) * np.float32(0.01)
        out[i] = np.round(slab, 3)
    return out


# --- memory measurement -----------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(func: Callable[[], Any]) -> tuple[float, float, float, Any]:
    """Run ``func``; return (seconds, CPU seconds, peak resident growth in bytes, result)."""
    import gc
    import resource

    gc.collect()
    can_reset = _reset_peak()
    before = _status_kib("VmRSS") or 0
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    if can_reset and (hwm := _status_kib("VmHWM")) is not None:
        peak_kib = hwm - before
    else:  # no /proc: the process-lifetime high-water mark is an upper bound
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return seconds, cpu, max(peak_kib, 0) * 1024.0, result


# --- one case, in a subprocess ----------------------------------------------------------------


def _open_cloudzarr(store_kind: str, root: str, shape: tuple[int, ...]) -> Any:
    from cloudzarr.arrays import Array, build_array_metadata
    from cloudzarr.storage import MemoryStore
    from cloudzarr.storage.local import LocalStore

    store = MemoryStore() if store_kind == "memory" else LocalStore(root)
    chunks = tuple(min(CHUNK, n) for n in shape)
    meta = build_array_metadata(
        shape=shape,
        dtype="float32",
        chunks=chunks,
        compressors={"name": "zstd", "configuration": {"level": 0, "checksum": False}},
    )
    return Array.create(store, "a", meta, overwrite=True)


def _open_zarr(store_kind: str, root: str, shape: tuple[int, ...]) -> Any:
    import zarr
    from zarr.codecs import ZstdCodec

    store: Any = zarr.storage.MemoryStore() if store_kind == "memory" else root
    chunks = tuple(min(CHUNK, n) for n in shape)
    return zarr.create_array(
        store,
        name="a",
        shape=shape,
        chunks=chunks,
        dtype="float32",
        compressors=ZstdCodec(level=0),
        overwrite=True,
    )


class _CodecFloor:
    """The codec work alone: what ``arr[...] = data`` and ``arr[...]`` cannot do with less.

    Each 64^3 chunk is copied out of the input (zstd needs contiguous bytes) and compressed with
    numcodecs' Zstd at level 0, as both libraries do, in a pool of one thread per core;
    numcodecs releases the GIL while it compresses. Reads decompress each chunk into a
    per-thread buffer and copy it into its place in the output.
    """

    def __init__(self, store_kind: str, root: str, shape: tuple[int, ...]) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        from numcodecs import Zstd

        self.shape = shape
        self.codec = Zstd(level=0)
        self.root = None if store_kind == "memory" else root
        self.stored: dict[tuple[int, ...], bytes] = {}
        self.pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
        self.local = threading.local()
        steps = [range(0, n, CHUNK) for n in shape]
        self.origins = [(i, j, k) for i in steps[0] for j in steps[1] for k in steps[2]]

    def _region(self, origin: tuple[int, ...]) -> tuple[slice, ...]:
        return tuple(slice(o, min(o + CHUNK, n)) for o, n in zip(origin, self.shape, strict=True))

    def _path(self, origin: tuple[int, ...]) -> str:
        assert self.root is not None
        return os.path.join(self.root, "c" + ".".join(str(o // CHUNK) for o in origin))

    def __setitem__(self, _key: Any, data: Any) -> None:
        import numpy as np

        def encode(origin: tuple[int, ...]) -> None:
            encoded = self.codec.encode(np.ascontiguousarray(data[self._region(origin)]))
            if self.root is None:
                self.stored[origin] = encoded
            else:
                with open(self._path(origin), "wb") as fh:
                    fh.write(encoded)

        list(self.pool.map(encode, self.origins))

    def __getitem__(self, _key: Any) -> Any:
        import numpy as np

        out = np.empty(self.shape, dtype=np.float32)

        def decode(origin: tuple[int, ...]) -> None:
            region = self._region(origin)
            if self.root is None:
                encoded = self.stored[origin]
            else:
                with open(self._path(origin), "rb") as fh:
                    encoded = fh.read()
            target = out[region]
            scratch = getattr(self.local, "buf", None)
            if scratch is None or scratch.shape != target.shape:
                scratch = self.local.buf = np.empty(target.shape, dtype=np.float32)
            self.codec.decode(encoded, out=scratch)
            target[...] = scratch

        list(self.pool.map(decode, self.origins))
        return out


def _open_floor(store_kind: str, root: str, shape: tuple[int, ...]) -> Any:
    return _CodecFloor(store_kind, root, shape)


def _summary(
    cold: tuple[float, float, float, Any], warm: tuple[float, float, float, Any]
) -> dict[str, float]:
    """Warm time and CPU, cold time, and the larger peak of the two passes."""
    return {
        "seconds": warm[0],
        "cpu_seconds": warm[1],
        "cold_seconds": cold[0],
        "peak_bytes": max(cold[2], warm[2]),
    }


def _worker(lib: str, store_kind: str, nbytes: int) -> dict[str, Any]:
    import numpy as np

    shape = array_shape(nbytes)
    data = make_data(shape)
    root = tempfile.mkdtemp(prefix=f"bench-arrays-{lib}-")
    try:
        opener = {"cloudzarr": _open_cloudzarr, "zarr": _open_zarr, "floor": _open_floor}[lib]
        arr = opener(store_kind, root, shape)

        def write() -> None:
            arr[...] = data

        def read() -> Any:
            return arr[...]

        # A cold pass (first touch of fresh memory, imports, thread pools), then a warm one.
        cold_w = _measure(write)
        cold_r = _measure(read)
        if not np.array_equal(cold_r[3], data):
            raise AssertionError(f"{lib} on {store_kind}: data read back differs")
        cold_r = (*cold_r[:3], None)  # free the output before the warm pass
        warm_w = _measure(write)
        warm_r = _measure(read)
        return {
            "shape": list(shape),
            "nbytes": int(data.nbytes),
            "write": _summary(cold_w, warm_w),
            "read": _summary(cold_r, warm_r),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_case(lib: str, store_kind: str, nbytes: int) -> dict[str, Any]:
    env = dict(os.environ)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, store_kind, str(nbytes)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark case {lib}/{store_kind} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- the public entry points -------------------------------------------------------------------


def run(
    size: str | int = FULL_SIZE,
    *,
    repeat: int = 1,
    stores: Sequence[str] = STORES,
    libraries: Sequence[str] = LIBRARIES,
) -> list[dict[str, Any]]:
    """Run every case and return one row per (library, store, operation).

    Parameters
    ----------
    size
        The array's size in bytes, or a string such as ``"256MiB"``.
    repeat
        Runs per case; the fastest is kept (with the largest peak memory of all runs).
    stores, libraries
        Subsets of :data:`STORES` and :data:`LIBRARIES`.

    Returns
    -------
    list of dict
        Rows with ``benchmark``, ``library``, ``store``, ``operation``, ``shape``, ``nbytes``,
        ``seconds``, ``cpu_seconds`` (process CPU time of the fastest run: less sensitive than
        wall time to other load on the machine), ``peak_bytes``, ``peak_ratio`` (peak / array
        size) and, on cloudzarr rows
        when zarr-python ran too, ``speedup`` (zarr-python's time / cloudzarr's); on library
        rows when the floor ran, ``x_floor`` (the row's time / the codec floor's).
    """
    nbytes = parse_size(size)
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for _ in range(max(repeat, 1)):
        for store_kind in stores:
            for lib in libraries:  # alternate libraries so drift hits both
                res = _run_case(lib, store_kind, nbytes)
                for op in OPERATIONS:
                    key = (lib, store_kind, op)
                    seconds, peak = res[op]["seconds"], res[op]["peak_bytes"]
                    cpu = res[op]["cpu_seconds"]
                    cold = res[op]["cold_seconds"]
                    row = best.get(key)
                    if row is None:
                        best[key] = {
                            "benchmark": "arrays",
                            "library": lib,
                            "store": store_kind,
                            "operation": op,
                            "shape": res["shape"],
                            "nbytes": res["nbytes"],
                            "seconds": seconds,
                            "cpu_seconds": cpu,
                            "cold_seconds": cold,
                            "peak_bytes": peak,
                        }
                    else:
                        if seconds < row["seconds"]:
                            row["cpu_seconds"] = cpu
                        row["seconds"] = min(row["seconds"], seconds)
                        row["cold_seconds"] = min(row["cold_seconds"], cold)
                        row["peak_bytes"] = max(row["peak_bytes"], peak)
    rows = list(best.values())
    for row in rows:
        row["peak_ratio"] = row["peak_bytes"] / row["nbytes"]
        other = best.get(("zarr", row["store"], row["operation"]))
        if row["library"] == "cloudzarr" and other is not None:
            row["speedup"] = other["seconds"] / row["seconds"]
            row["cold_speedup"] = other["cold_seconds"] / row["cold_seconds"]
        floor = best.get(("floor", row["store"], row["operation"]))
        if row["library"] != "floor" and floor is not None:
            row["x_floor"] = row["seconds"] / floor["seconds"]
    return rows


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    lines = [
        "| library | store | operation | shape | seconds | CPU s | MB/s | peak MiB "
        "| peak / size | speedup | x floor | cold s | cold speedup |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        speed = r["nbytes"] / r["seconds"] / 1e6 if r["seconds"] else float("inf")
        speedup = f"{r['speedup']:.2f}x" if "speedup" in r else ""
        cold_speedup = f"{r['cold_speedup']:.2f}x" if "cold_speedup" in r else ""
        x_floor = f"{r['x_floor']:.2f}" if "x_floor" in r else ""
        shape = "x".join(str(n) for n in r["shape"])
        lines.append(
            f"| {r['library']} | {r['store']} | {r['operation']} | {shape} | {r['seconds']:.3f} "
            f"| {r['cpu_seconds']:.2f} | {speed:.0f} | {r['peak_bytes'] / 2**20:.1f} "
            f"| {r['peak_ratio']:.2f} | {speedup} | {x_floor} | {r['cold_seconds']:.3f} "
            f"| {cold_speedup} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the markdown table (and optionally write JSON rows)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256MiB", help="array size (256MiB, 1MiB, bytes)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument(
        "--worker", nargs=3, metavar=("LIB", "STORE", "NBYTES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        lib, store_kind, nbytes = args.worker
        print(json.dumps(_worker(lib, store_kind, int(nbytes))))
        return 0
    rows = run(
        args.size,
        repeat=args.repeat,
        stores=[s for s in args.stores.split(",") if s],
        libraries=[s for s in args.libraries.split(",") if s],
    )
    print(to_markdown(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
