"""Consolidated metadata upkeep by compare-and-swap: no entry is lost between processes.

"Another process" is modelled two ways: separate store objects driven from their own threads
and event loops (nothing in-process serialises them: the upkeep's asyncio locks are per loop),
on every store; and real separate processes on a LocalStore (``tests/cas_worker.py``).
"""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from cloudzarr.api import asynchronous as aapi
from cloudzarr.errors import ConcurrentUpdateError, ConnectionResetStoreError
from cloudzarr.groups import AsyncGroup
from cloudzarr.storage import LocalStore, MemoryStore, RetryStore, Store
from cloudzarr.storage.base import Version
from cloudzarr.storage.wrapper import StoreWrapper

if TYPE_CHECKING:
    from conftest import CasWorkers

T = TypeVar("T")


def separate_instance(store: Store) -> Store:
    """Another store object over the same storage, as another process would build it."""
    if isinstance(store, MemoryStore):
        return MemoryStore(store._data)  # pickling a MemoryStore copies its values
    clone: Store = pickle.loads(pickle.dumps(store))
    return clone


async def in_threads(store: Store, jobs: list[Callable[[Store], Awaitable[Any]]]) -> list[Any]:
    """Run each job on its own thread, event loop and store object, all starting together."""
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[Store], Awaitable[Any]], own: Store) -> Any:
        async def body() -> Any:
            try:
                return await job(own)
            finally:
                await own.close()

        start.wait()
        return asyncio.run(body())

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(run, job, separate_instance(store)) for job in jobs]
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))


async def consolidated_paths(store: Store, path: str = "") -> set[str]:
    group = await AsyncGroup.open(store, path, use_consolidated=True)
    cm = group.metadata.consolidated_metadata
    assert cm is not None
    return set(cm.paths())


async def walked_paths(store: Store) -> set[str]:
    group = await AsyncGroup.open(store, use_consolidated=False)
    return {p async for p, _ in group.members(max_depth=None)}


def creator(prefix: str, n: int) -> Callable[[Store], Awaitable[None]]:
    async def job(store: Store) -> None:
        root = await AsyncGroup.open(store)
        await asyncio.gather(*(root.create_group(f"{prefix}{i}") for i in range(n)))

    return job


async def test_creators_on_separate_instances_lose_no_entry(any_store: Store) -> None:
    await aapi.create_group(any_store)
    await aapi.consolidate_metadata(any_store)
    writers, each = 2, 8
    await in_threads(any_store, [creator(f"w{w}-", each) for w in range(writers)])
    expected = {f"w{w}-{i}" for w in range(writers) for i in range(each)}
    assert await consolidated_paths(any_store) == expected
    assert await walked_paths(any_store) == expected


async def v2_creators_lose_no_entry(store: Store) -> None:
    await aapi.create_group(store, zarr_format=2)
    await aapi.consolidate_metadata(store)
    await in_threads(store, [creator(f"w{w}-", 6) for w in range(2)])
    expected = {f"w{w}-{i}" for w in range(2) for i in range(6)}
    assert await consolidated_paths(store) == expected
    assert json.loads((await store.get(".zmetadata")) or b"")["zarr_consolidated_format"] == 1


async def test_v2_creators_on_separate_memory_instances(memory_store: Store) -> None:
    await v2_creators_lose_no_entry(memory_store)


async def test_v2_creators_on_separate_s3_instances(s3_store: Store) -> None:
    await v2_creators_lose_no_entry(s3_store)


async def test_nested_holders_and_attribute_updates_race_creators(s3_store: Store) -> None:
    # The root and g hold consolidated metadata; one writer creates below g while another keeps
    # replacing g's attributes (g's own zarr.json is also a holder document).
    await aapi.create_group(s3_store)
    await (await AsyncGroup.open(s3_store)).create_group("g")
    await aapi.consolidate_metadata(s3_store, "g")
    await aapi.consolidate_metadata(s3_store)

    async def attrs(store: Store) -> None:
        g = await AsyncGroup.open(store, "g", use_consolidated=False)
        for i in range(6):
            await g.update_attributes({"round": i})

    async def below_g(store: Store) -> None:
        g = await AsyncGroup.open(store, "g", use_consolidated=False)
        await asyncio.gather(*(g.create_group(f"c{i}") for i in range(6)))

    await in_threads(s3_store, [attrs, below_g])
    children = {f"c{i}" for i in range(6)}
    assert await consolidated_paths(s3_store, "g") == children
    assert await consolidated_paths(s3_store) == {"g"} | {f"g/{c}" for c in children}
    top = await AsyncGroup.open(s3_store, use_consolidated=True)
    assert (await top.getitem("g")).attrs == {"round": 5}
    assert (await AsyncGroup.open(s3_store, "g", use_consolidated=False)).attrs == {"round": 5}


async def test_processes_creating_groups_under_one_consolidated_root(
    tmp_path: Path, cas_workers: CasWorkers
) -> None:
    store = LocalStore(tmp_path / "store")
    await aapi.create_group(store)
    await aapi.consolidate_metadata(store)
    processes, each = 2, 16
    await cas_workers([["groups", str(store.root), f"p{p}-", str(each)] for p in range(processes)])
    expected = {f"p{p}-{i}" for p in range(processes) for i in range(each)}
    assert await consolidated_paths(store) == expected
    assert await walked_paths(store) == expected


async def test_holder_update_costs_two_swaps(s3_store: Store) -> None:
    await aapi.create_group(s3_store)
    await aapi.consolidate_metadata(s3_store)
    root = await AsyncGroup.open(s3_store, use_consolidated=False)
    s3_store.requests.reset()
    await root.create_group("new")
    # GET the root's zarr.json (is it a holder?); mark it pending (GET with its ETag,
    # conditional PUT); create new/zarr.json; apply the change and unmark (GET, conditional
    # PUT). The mark costs one swap more than an update alone: the price of never leaving the
    # root wrong when the writer dies midway.
    assert s3_store.requests.snapshot() == {"PutObject": 3, "GetObject": 3}


async def test_holder_update_request_names_on_memory() -> None:
    store = MemoryStore()
    await aapi.create_group(store)
    await aapi.consolidate_metadata(store)
    root = await AsyncGroup.open(store, use_consolidated=False)
    store.requests.reset()
    await root.create_group("new")
    assert store.requests.snapshot() == {
        "set_if_not_exists": 1,
        "get": 1,
        "get_with_version": 2,
        "set_if_version": 2,
    }


class _Meddler(StoreWrapper):
    """Another writer that rewrites the root document before each of our conditional writes."""

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        current = await self._inner._get(key, None)
        assert current is not None
        await self._inner._set(key, current + b" ")
        return await super()._set_if_version(key, value, version)


async def test_endless_conflicts_raise_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDZARR_CAS_ATTEMPTS", "3")
    inner = MemoryStore()
    await aapi.create_group(inner)
    await aapi.consolidate_metadata(inner)
    root = await AsyncGroup.open(_Meddler(inner), use_consolidated=False)
    with pytest.raises(ConcurrentUpdateError, match=r"'zarr\.json'.*3 times"):
        await root.create_group("new")
    # Marking the root pending failed first, so nothing was written: the node does not
    # exist, and the root's consolidated metadata is intact (and not marked).
    assert not await inner.exists("new/zarr.json")
    assert await consolidated_paths(inner) == set()


class _LostResponses(StoreWrapper):
    """Every conditional write is applied and then its response is lost (reset), once per key."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.lost: set[str] = set()

    async def _set_if_version(self, key: str, value: bytes, version: Version) -> bool:
        done = await super()._set_if_version(key, value, version)
        if key not in self.lost:
            self.lost.add(key)
            raise ConnectionResetStoreError(f"response to the write of {key!r} lost")
        return done


async def test_retried_conditional_write_that_was_applied_counts_once() -> None:
    inner = MemoryStore()
    await aapi.create_group(inner)
    await aapi.consolidate_metadata(inner)
    lossy = _LostResponses(inner)
    store = RetryStore(lossy, backoff=0)
    root = await AsyncGroup.open(store, use_consolidated=False)
    await root.create_group("a")
    await root.update_attributes({"x": 1})
    assert lossy.lost == {"zarr.json"}
    assert await consolidated_paths(inner) == {"a"}
    assert (await AsyncGroup.open(inner)).attrs == {"x": 1}


def nested_creator(w: int, n: int) -> Callable[[Store], Awaitable[None]]:
    async def job(store: Store) -> None:
        root = await AsyncGroup.open(store)
        # Every writer needs the parents "shared" and "shared/{i}": one creates each, the
        # others find it there.
        await asyncio.gather(*(root.create_group(f"shared/{i}/w{w}") for i in range(n)))

    return job


async def test_writers_sharing_new_parents_keep_the_root_consolidated(any_store: Store) -> None:
    await aapi.create_group(any_store)
    await aapi.consolidate_metadata(any_store)
    writers, each = 2, 4
    await in_threads(any_store, [nested_creator(w, each) for w in range(writers)])
    expected = (
        {"shared"}
        | {f"shared/{i}" for i in range(each)}
        | {f"shared/{i}/w{w}" for i in range(each) for w in range(writers)}
    )
    assert await walked_paths(any_store) == expected
    assert await consolidated_paths(any_store) == expected


async def test_processes_creating_groups_under_one_consolidated_s3_root(
    s3_store: Store, s3_storage_options: dict[str, Any], cas_workers: CasWorkers
) -> None:
    await aapi.create_group(s3_store)
    await aapi.consolidate_metadata(s3_store)
    url = s3_store.url  # type: ignore[attr-defined]
    processes, each = 2, 8
    await cas_workers(
        [["groups", url, f"p{p}-", str(each)] for p in range(processes)], s3_storage_options
    )
    expected = {f"p{p}-{i}" for p in range(processes) for i in range(each)}
    assert await consolidated_paths(s3_store) == expected
    assert await walked_paths(s3_store) == expected
