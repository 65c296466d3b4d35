"""Node documents change by compare-and-swap: nothing another writer did is undone.

Real separate processes (``tests/cas_worker.py``) on a LocalStore and on S3 (moto); plus
in-process stale-handle cases and the documented behaviour of a store without
compare-and-swap (last writer wins).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
import numpy as np
import pytest
from fsspec.implementations.dirfs import DirFileSystem

from cloudzarr.api import asynchronous as aapi
from cloudzarr.arrays.async_array import AsyncArray
from cloudzarr.config import config
from cloudzarr.errors import (
    ArrayShapeError,
    ConcurrentUpdateError,
    GroupNotFoundError,
    IndexingError,
)
from cloudzarr.groups import AsyncGroup
from cloudzarr.metadata.group import GroupMetadataV3
from cloudzarr.storage import LocalStore, MemoryStore, Store
from cloudzarr.storage.base import Version
from cloudzarr.storage.fsspec import FsspecStore
from cloudzarr.storage.wrapper import StoreWrapper

if TYPE_CHECKING:
    from conftest import CasWorkers


def _root(store: Store) -> str:
    return str(store.root) if isinstance(store, LocalStore) else store.url  # type: ignore[attr-defined]


@pytest.fixture(params=["local", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Store, dict[str, Any]]:
    """A store other processes can open too, with the options they need."""
    if request.param == "local":
        return LocalStore(tmp_path / "store"), {}
    store: Store = request.getfixturevalue("s3_store")
    return store, request.getfixturevalue("s3_storage_options")


async def test_four_processes_fifty_attribute_updates_each_keep_all(
    shared: tuple[Store, dict[str, Any]], cas_workers: CasWorkers
) -> None:
    store, options = shared
    await aapi.create_group(store, path="g")
    await _four_times_fifty(store, options, cas_workers)


async def test_four_processes_update_a_v2_array_s_zattrs(
    tmp_path: Path, cas_workers: CasWorkers
) -> None:
    store = LocalStore(tmp_path / "store")
    await aapi.create_array(store, name="g", shape=(4,), dtype="i4", zarr_format=2)
    await _four_times_fifty(store, {}, cas_workers)


async def _four_times_fifty(store: Store, options: dict[str, Any], cas_workers: CasWorkers) -> None:
    await cas_workers([["attrs", _root(store), "g", f"p{p}-", "50"] for p in range(4)], options)
    node = await aapi.open(store, path="g", mode="r")
    assert node.attrs == {f"p{p}-{i}": i for p in range(4) for i in range(50)}


async def test_two_processes_appending_forty_blocks_each(
    shared: tuple[Store, dict[str, Any]], cas_workers: CasWorkers
) -> None:
    store, options = shared
    await aapi.create_array(store, name="a", shape=(0,), chunks=(4,), dtype="i4")
    await cas_workers([["append", _root(store), "a", str(p + 1), "40"] for p in range(2)], options)
    array = await aapi.open_array(store, path="a", mode="r")
    assert array.shape == (320,)
    blocks = (await array.getitem(slice(None))).reshape(80, 4)
    # Every block whole (one value throughout), every block present exactly once.
    assert (blocks == blocks[:, :1]).all()
    assert sorted(blocks[:, 0].tolist()) == sorted(p * 1000 + i for p in (1, 2) for i in range(40))


async def test_resize_and_attribute_updates_in_two_processes_revert_neither(
    shared: tuple[Store, dict[str, Any]], cas_workers: CasWorkers
) -> None:
    store, options = shared
    await aapi.create_array(store, name="a", shape=(10,), chunks=(4,), dtype="i4")
    root = _root(store)
    await cas_workers([["resize", root, "a", "12"], ["attrs", root, "a", "k", "12"]], options)
    array = await aapi.open_array(store, path="a", mode="r")
    assert array.shape == (22,)
    assert array.attrs == {f"k{i}": i for i in range(12)}


@pytest.mark.parametrize("zarr_format", [2, 3])
async def test_stale_handle_attribute_update_keeps_a_resize(zarr_format: int) -> None:
    store = MemoryStore()
    first = await aapi.create_array(
        store, name="a", shape=(10,), chunks=(5,), dtype="i4", zarr_format=zarr_format
    )
    stale = await aapi.open_array(store, path="a")
    await first.resize((20,))
    await stale.update_attributes({"k": 1})
    assert stale.shape == (20,) if zarr_format == 3 else stale.attrs == {"k": 1}
    fresh = await aapi.open_array(store, path="a")
    assert fresh.shape == (20,)
    assert fresh.attrs == {"k": 1}


@pytest.mark.parametrize("zarr_format", [2, 3])
async def test_stale_handle_resize_keeps_attributes(zarr_format: int) -> None:
    store = MemoryStore()
    first = await aapi.create_array(
        store, name="a", shape=(10,), chunks=(5,), dtype="i4", zarr_format=zarr_format
    )
    stale = await aapi.open_array(store, path="a")
    await first.update_attributes({"k": 1})
    await stale.resize((20,))
    fresh = await aapi.open_array(store, path="a")
    assert (fresh.shape, fresh.attrs) == ((20,), {"k": 1})
    if zarr_format == 3:
        assert stale.attrs == {"k": 1}  # refreshed from what the swap read


@pytest.mark.parametrize("zarr_format", [2, 3])
async def test_stale_attribute_handles_merge_and_delete_keys(zarr_format: int) -> None:
    store = MemoryStore()
    await aapi.create_group(store, path="g", zarr_format=zarr_format, attributes={"x": 0})
    one, two = await AsyncGroup.open(store, "g"), await AsyncGroup.open(store, "g")
    await one.update_attributes({"a": 1})
    await two.update_attributes({"b": 2})
    assert two.attrs == {"x": 0, "a": 1, "b": 2}
    await one.delete_attributes("x", "missing")
    assert one.attrs == {"a": 1, "b": 2}
    assert (await AsyncGroup.open(store, "g")).attrs == {"a": 1, "b": 2}


def test_sync_attrs_mapping_sends_changes(tmp_path: Path) -> None:
    import cloudzarr

    store = LocalStore(tmp_path / "s")
    one = cloudzarr.create_group(store, path="g")
    two = cloudzarr.open_group(store, path="g")
    one.attrs["a"] = 1
    attrs = two.attrs
    attrs["b"] = 2  # a stale mapping: shows what the swap read, others' keys included
    assert attrs == {"a": 1, "b": 2}
    del attrs["a"]
    assert cloudzarr.open_group(store, path="g").attrs == {"b": 2}


async def test_append_along_an_axis_and_errors() -> None:
    store = MemoryStore()
    array = await aapi.create_array(store, name="a", shape=(2, 3), chunks=(2, 2), dtype="i4")
    await array.setitem(Ellipsis, np.arange(6).reshape(2, 3))
    assert await array.append(np.full((2, 2), 9), axis=1) == (2, 5)
    assert (await array.getitem(Ellipsis)).tolist() == [[0, 1, 2, 9, 9], [3, 4, 5, 9, 9]]
    store.requests.reset()
    assert await array.append(np.full((1, 5), 7)) == (3, 5)
    # One swap of zarr.json (GET with version, conditional PUT), then the new row's chunks.
    counts = store.requests.snapshot()
    assert (counts["get_with_version"], counts["set_if_version"]) == (1, 1)
    with pytest.raises(ArrayShapeError, match="'/a'"):
        await array.append(np.zeros((1, 4)))
    with pytest.raises(IndexingError, match="axis 2"):
        await array.append(np.zeros((1, 5)), axis=2)
    assert array.shape == (3, 5)


class _Meddler(StoreWrapper):
    """Changes every document just before the conditional write: every swap loses."""

    async def _set_if_version(self, key: str, value: Any, version: Version | None) -> bool:
        current = await self._inner._get(key, None)
        if current is not None:
            await self._inner._set(key, current + b" ")
        return await super()._set_if_version(key, value, version)


async def test_endless_conflicts_raise_naming_the_node() -> None:
    inner = MemoryStore()
    await aapi.create_array(inner, name="a", shape=(4,), dtype="i4")
    array = await AsyncArray.open(_Meddler(inner), "a")
    with (
        config.set({"metadata.cas_attempts": 3}),
        pytest.raises(ConcurrentUpdateError, match=r"array '/a'.*3 times"),
    ):
        await array.update_attributes({"k": 1})
    assert (await AsyncArray.open(inner, "a")).attrs == {}


async def test_a_deleted_group_is_not_recreated_by_an_attribute_update() -> None:
    store = MemoryStore()
    group = await aapi.create_group(store, path="g")
    await store.delete_dir("g")
    with pytest.raises(GroupNotFoundError, match="'/g'"):
        await group.update_attributes({"k": 1})
    assert not await store.exists("g/zarr.json")


async def test_a_store_without_compare_and_swap_is_last_writer_wins() -> None:
    # fsspec over a protocol without conditional writes (here dir:// over memory): the change
    # is still applied to the document as read now, by a plain GET and PUT.
    fs = DirFileSystem(path=f"/cz-{uuid.uuid4().hex}", fs=fsspec.filesystem("memory"))
    store = FsspecStore(fs, "")
    assert not store.supports_compare_and_swap
    # Nor has it atomic creates, so the node is written plainly.
    await store.set("g/zarr.json", GroupMetadataV3().to_documents()["zarr.json"])
    group, other = await AsyncGroup.open(store, "g"), await AsyncGroup.open(store, "g")
    await group.update_attributes({"a": 1})
    await other.update_attributes({"b": 2})
    assert (await AsyncGroup.open(store, "g")).attrs == {"a": 1, "b": 2}


async def test_processes_changing_one_array_leave_the_holder_copy_current(
    tmp_path: Path, cas_workers: CasWorkers
) -> None:
    # The root's consolidated copy of the array ends as the array itself ends, whichever
    # writer's holder update lands last (each re-reads the array after reading the root).
    store = LocalStore(tmp_path / "store")
    await aapi.create_group(store)
    await aapi.create_array(store, name="a", shape=(10,), chunks=(4,), dtype="i4")
    await aapi.consolidate_metadata(store)
    root = _root(store)
    await cas_workers([["resize", root, "a", "10"], ["attrs", root, "a", "k", "10"]], {})
    stored = await aapi.open_array(store, path="a", mode="r")
    assert (stored.shape, len(stored.attrs)) == ((20,), 10)
    listed = await (await AsyncGroup.open(store, use_consolidated=True)).getitem("a")
    assert (listed.shape, listed.attrs) == (stored.shape, stored.attrs)
