"""The store suite, part 4: compare-and-swap (``get_with_version`` / ``set_if_version``).

Runs on every store: success, a stale version refused with the value untouched, missing and
deleted keys, exact request counts, concurrent increments of one counter from many tasks and
from separate store instances on their own event loops, and a LocalStore counter shared by
separate processes.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec
import pytest
from fsspec.implementations.dirfs import DirFileSystem

from cloudzarr.errors import ReadOnlyError, UnsupportedError
from cloudzarr.storage import LocalStore, MemoryStore, Store
from cloudzarr.storage.fsspec import FsspecStore

if TYPE_CHECKING:
    from conftest import CasWorkers

#: What one successful compare-and-swap (a read with its version, then the conditional write)
#: costs, by store kind, as counted in ``store.requests``.
ONE_CAS = {
    "S3Store": {"GetObject": 1, "PutObject": 1},
    "GCSStore": {"GET object": 1, "POST upload": 1},
    "AzureStore": {"GetBlob": 1, "PutBlob": 1},
}
PER_OPERATION = {"get_with_version": 1, "set_if_version": 1}


def separate_instance(store: Store) -> Store:
    """Another store object over the same storage, as a second process would build it."""
    if isinstance(store, MemoryStore):
        return MemoryStore(store._data)  # pickling a MemoryStore copies its values
    clone: Store = pickle.loads(pickle.dumps(store))
    return clone


async def test_replace_with_current_version(any_store: Store) -> None:
    assert any_store.supports_compare_and_swap
    await any_store.set("k", b"one")
    got = await any_store.get_with_version("k")
    assert got is not None
    value, version = got
    assert value == b"one"
    assert await any_store.set_if_version("k", b"two", version)
    assert await any_store.get("k") == b"two"
    again = await any_store.get_with_version("k")
    assert again is not None and again[0] == b"two" and again[1] != version


async def test_stale_version_refused_and_value_unchanged(any_store: Store) -> None:
    await any_store.set("k", b"one")
    got = await any_store.get_with_version("k")
    assert got is not None
    stale = got[1]
    assert await any_store.set_if_version("k", b"two", stale)
    assert not await any_store.set_if_version("k", b"three", stale)
    assert await any_store.get("k") == b"two"
    # A plain write in between makes a version stale too.
    now = await any_store.get_with_version("k")
    assert now is not None
    await any_store.set("k", b"plain")
    assert not await any_store.set_if_version("k", b"lost", now[1])
    assert await any_store.get("k") == b"plain"


async def test_missing_and_deleted_keys(any_store: Store) -> None:
    assert await any_store.get_with_version("nope") is None
    await any_store.set("k", b"v")
    got = await any_store.get_with_version("k")
    assert got is not None
    await any_store.delete("k")
    assert not await any_store.set_if_version("k", b"back", got[1])
    assert await any_store.get("k") is None
    # version=None: create only if absent.
    assert await any_store.set_if_version("k", b"new", None)
    assert not await any_store.set_if_version("k", b"again", None)
    assert await any_store.get("k") == b"new"


async def test_nested_key_and_empty_value(any_store: Store) -> None:
    await any_store.set("a/b/zarr.json", b"")
    got = await any_store.get_with_version("a/b/zarr.json")
    assert got is not None and got[0] == b""
    assert await any_store.set_if_version("a/b/zarr.json", b"{}", got[1])
    assert [k async for k in any_store.list_prefix("a")] == ["a/b/zarr.json"]
    assert await any_store.get("a/b/zarr.json") == b"{}"


async def test_one_cas_request_counts(any_store: Store) -> None:
    await any_store.set("k", b"0")
    any_store.requests.reset()
    got = await any_store.get_with_version("k")
    assert got is not None
    assert await any_store.set_if_version("k", b"1", got[1])
    expected = ONE_CAS.get(type(any_store).__name__, PER_OPERATION)
    assert any_store.requests.snapshot() == expected
    # A refused write costs the conditional request only.
    any_store.requests.reset()
    assert not await any_store.set_if_version("k", b"2", got[1])
    write_only = {k: v for k, v in expected.items() if k != next(iter(expected))}
    assert any_store.requests.snapshot() == write_only


async def test_read_only_refuses_and_keys_are_checked(any_store: Store) -> None:
    await any_store.set("k", b"v")
    got = await any_store.get_with_version("k")
    assert got is not None
    with pytest.raises(ReadOnlyError):
        await any_store.with_read_only().set_if_version("k", b"w", got[1])
    with pytest.raises(ValueError):
        await any_store.get_with_version("../escape")
    with pytest.raises(ValueError):
        await any_store.set_if_version("a//b", b"w", got[1])
    assert await any_store.get("k") == b"v"


async def _increment(store: Store, key: str, times: int, *, yield_between: bool) -> int:
    """Add 1 to the integer at ``key`` ``times`` times by compare-and-swap; return conflicts."""
    conflicts = 0
    for _ in range(times):
        while True:
            got = await store.get_with_version(key)
            assert got is not None
            if yield_between:
                # Let every other task read before this one writes: maximal contention.
                await asyncio.sleep(0)
            if await store.set_if_version(key, str(int(got[0]) + 1).encode(), got[1]):
                break
            conflicts += 1
    return conflicts


async def test_concurrent_increments_from_many_tasks(any_store: Store) -> None:
    await any_store.set("counter", b"0")
    tasks, times = 16, 1
    conflicts = await asyncio.gather(
        *(_increment(any_store, "counter", times, yield_between=True) for _ in range(tasks))
    )
    assert await any_store.get("counter") == str(tasks * times).encode()
    assert sum(conflicts) > 0  # the tasks did collide, and no increment was lost


async def test_concurrent_increments_from_separate_instances_and_loops(any_store: Store) -> None:
    # Each thread has its own store object and event loop: nothing in-process serialises them.
    await any_store.set("counter", b"0")
    workers, times = 4, 4
    start = threading.Barrier(workers)

    def run(store: Store) -> int:
        async def body() -> int:
            try:
                return await _increment(store, "counter", times, yield_between=False)
            finally:
                await store.close()

        start.wait()
        return asyncio.run(body())

    stores = [separate_instance(any_store) for _ in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        results = await asyncio.gather(*(asyncio.wrap_future(pool.submit(run, s)) for s in stores))
    assert await any_store.get("counter") == str(workers * times).encode()
    assert all(isinstance(n, int) for n in results)


async def test_local_counter_shared_by_processes(tmp_path: Path, cas_workers: CasWorkers) -> None:
    store = LocalStore(tmp_path / "store")
    await store.set("counter", b"0")
    processes, times = 2, 50
    reports = await cas_workers(
        [["counter", str(store.root), "counter", str(times)] for _ in range(processes)]
    )
    assert await store.get("counter") == str(processes * times).encode()
    assert len(reports) == processes


async def test_filesystem_without_conditional_replace_refuses(tmp_path: Path) -> None:
    fs = DirFileSystem(path=str(tmp_path), fs=fsspec.filesystem("file"))
    store = FsspecStore(fs, "root")
    await store.set("k", b"v")
    assert store.supports_compare_and_swap is False
    with pytest.raises(UnsupportedError, match="conditional replace"):
        await store.get_with_version("k")
    with pytest.raises(UnsupportedError, match="conditional replace"):
        await store.set_if_version("k", b"w", "some-version")
    assert await store.get("k") == b"v"
