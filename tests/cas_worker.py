"""A separate process for the cross-process compare-and-swap tests (run as a script).

It prints ``ready``, waits for a line on stdin (so every worker starts at once; the line is a
JSON object of storage options, so no credentials go on the command line), does its work and
prints one JSON line with what it did:

- ``counter ROOT KEY N``: N compare-and-swap increments of the integer at KEY of a LocalStore;
- ``groups ROOT PREFIX N``: opens the consolidated root group of the store at ROOT (a local
  folder, or a URL such as ``s3://bucket/prefix``) and creates the groups PREFIX0 ..
  PREFIX{N-1} concurrently;
- ``attrs ROOT NODE PREFIX N``: opens the node at NODE once and sets the attributes PREFIX0 ..
  PREFIX{N-1} one by one through that (soon stale) handle;
- ``append ROOT NODE ID N``: appends N one-chunk blocks filled with ID*1000+i to the 1-d array
  at NODE (chunk length 4);
- ``crash ROOT N MODE``: creates the groups g0 .. g{N-1} under the consolidated root, one by
  one (MODE ``plain``) or inside one ``batch()`` (MODE ``batch``), printing ``created I`` after
  each (and ``committing`` as a batch ends); the test kills it with SIGKILL at a random point;
- ``resize ROOT NODE N``: grows the array at NODE by one element N times (resize to the shape
  its handle, kept current by each swap, knows plus one).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import numpy as np

from cloudzarr.api import asynchronous as aapi
from cloudzarr.storage import LocalStore, Store, open_store


async def counter(root: str, key: str, n: int, options: dict[str, Any]) -> dict[str, int]:
    store = LocalStore(root)
    conflicts = 0
    for _ in range(n):
        while True:
            got = await store.get_with_version(key)
            assert got is not None
            value, version = got
            if await store.set_if_version(key, str(int(value) + 1).encode(), version):
                break
            conflicts += 1
    return {"conflicts": conflicts}


async def groups(root: str, prefix: str, n: int, options: dict[str, Any]) -> dict[str, int]:
    store: Store = open_store(root, storage_options=options) if "://" in root else LocalStore(root)
    try:
        group = await aapi.open_group(store, mode="r+")
        await asyncio.gather(*(group.create_group(f"{prefix}{i}") for i in range(n)))
    finally:
        await store.close()
    return {"created": n}


def _store(root: str, options: dict[str, Any]) -> Store:
    return open_store(root, storage_options=options) if "://" in root else LocalStore(root)


async def attrs(root: str, node: str, prefix: str, n: int, options: dict[str, Any]) -> Any:
    store = _store(root, options)
    try:
        handle = await aapi.open(store, path=node, mode="r+")
        for i in range(n):
            await handle.update_attributes({f"{prefix}{i}": i})
    finally:
        await store.close()
    return {"set": n}


async def append(root: str, node: str, ident: str, n: int, options: dict[str, Any]) -> Any:
    store = _store(root, options)
    try:
        array = await aapi.open_array(store, path=node, mode="r+")
        for i in range(n):
            await array.append(np.full(4, int(ident) * 1000 + i, dtype="i4"))
    finally:
        await store.close()
    return {"appended": n}


async def resize(root: str, node: str, n: int, options: dict[str, Any]) -> Any:
    store = _store(root, options)
    try:
        array = await aapi.open_array(store, path=node, mode="r+")
        for _ in range(n):
            await array.resize((array.shape[0] + 1,))
    finally:
        await store.close()
    return {"resized": n}


async def crash(root: str, n: int, mode: str, options: dict[str, Any]) -> Any:
    store = _store(root, options)
    group = await aapi.open_group(store, mode="r+")
    if mode == "batch":
        async with group.batch():
            for i in range(n):
                await group.create_group(f"g{i}")
                print(f"created {i}", flush=True)
            print("committing", flush=True)  # the batch's end applies and unmarks
    else:
        for i in range(n):
            await group.create_group(f"g{i}")
            print(f"created {i}", flush=True)
    await store.close()
    return {"created": n}


async def _run(argv: list[str], options: dict[str, Any]) -> Any:
    mode, root, *rest = argv
    if mode == "counter":
        return await counter(root, rest[0], int(rest[1]), options)
    if mode == "groups":
        return await groups(root, rest[0], int(rest[1]), options)
    if mode == "attrs":
        return await attrs(root, rest[0], rest[1], int(rest[2]), options)
    if mode == "append":
        return await append(root, rest[0], rest[1], int(rest[2]), options)
    if mode == "crash":
        return await crash(root, int(rest[0]), rest[1], options)
    if mode == "resize":
        return await resize(root, rest[0], int(rest[1]), options)
    raise SystemExit(f"unknown mode {mode!r}")


def main() -> None:
    print("ready", flush=True)
    options = json.loads(sys.stdin.readline() or "{}")
    print(json.dumps(asyncio.run(_run(sys.argv[1:], options))), flush=True)


if __name__ == "__main__":
    main()
