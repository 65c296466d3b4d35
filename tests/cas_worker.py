"""A separate process for the cross-process compare-and-swap tests (run as a script).

It prints ``ready``, waits for a line on stdin (so every worker starts at once; the line is a
JSON object of storage options, so no credentials go on the command line), does its work and
prints one JSON line with what it did:

- ``counter ROOT KEY N``: N compare-and-swap increments of the integer at KEY of a LocalStore;
- ``groups ROOT PREFIX N``: opens the consolidated root group of the store at ROOT (a local
  folder, or a URL such as ``s3://bucket/prefix``) and creates the groups PREFIX0 ..
  PREFIX{N-1} concurrently.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

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


def main() -> None:
    mode, root, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    print("ready", flush=True)
    options = json.loads(sys.stdin.readline() or "{}")
    work = counter if mode == "counter" else groups
    print(json.dumps(asyncio.run(work(root, name, n, options))), flush=True)


if __name__ == "__main__":
    main()
