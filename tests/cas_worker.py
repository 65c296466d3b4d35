"""A separate process for the cross-process compare-and-swap tests (run as a script).

It prints ``ready``, waits for a line on stdin (so every worker starts at once), does its work
and prints one JSON line with what it did:

- ``counter ROOT KEY N``: N compare-and-swap increments of the integer at KEY of a LocalStore;
- ``groups ROOT PREFIX N``: opens the consolidated root group of a LocalStore at ROOT and
  creates the groups PREFIX0 .. PREFIX{N-1} concurrently.
"""

from __future__ import annotations

import asyncio
import json
import sys

from cloudzarr.api import asynchronous as aapi
from cloudzarr.storage import LocalStore


async def counter(root: str, key: str, n: int) -> dict[str, int]:
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


async def groups(root: str, prefix: str, n: int) -> dict[str, int]:
    store = LocalStore(root)
    group = await aapi.open_group(store, mode="r+")
    await asyncio.gather(*(group.create_group(f"{prefix}{i}") for i in range(n)))
    return {"created": n}


def main() -> None:
    mode, root, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    print("ready", flush=True)
    sys.stdin.readline()
    work = counter if mode == "counter" else groups
    print(json.dumps(asyncio.run(work(root, name, n))), flush=True)


if __name__ == "__main__":
    main()
