"""Writes: node + parents in one round of atomic creates, hierarchies in one wave, races, modes."""

from __future__ import annotations

import asyncio

import pytest

from cloudzarr.api import asynchronous as aapi
from cloudzarr.arrays import build_array_metadata
from cloudzarr.errors import (
    ContainsArrayError,
    ContainsGroupError,
    GroupNotFoundError,
    NodeTypeError,
    ReadOnlyError,
    UnsupportedFormatError,
)
from cloudzarr.groups import AsyncGroup
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.storage import LatencyStore, MemoryStore


async def test_create_array_with_missing_parents_is_one_round() -> None:
    store = MemoryStore()
    await aapi.create_array(store, name="a/b/c", shape=(4,), dtype="i2")
    assert sorted(store._data) == ["a/b/c/zarr.json", "a/b/zarr.json", "a/zarr.json", "zarr.json"]
    # Three parents: create + GET each (the GET tells array parents and consolidated holders
    # apart); the array: one create. No listing, no exists-then-put.
    assert store.requests.snapshot() == {"set_if_not_exists": 4, "get": 3}


async def test_one_round_behind_latency() -> None:
    inner = MemoryStore()
    store = LatencyStore(inner, latency=0.05)
    await aapi.create_array(store, name="a/b/c/d/e", shape=(4,), dtype="i2")
    # Five parents (create + GET each) and the array: all in flight at once, one round.
    assert store.limiter.peak_in_flight == inner.requests.total == 11


async def test_group_create_array_reads_known_ancestors_only() -> None:
    store = MemoryStore()
    group = await aapi.create_group(store, path="x/y")
    store.requests.reset()
    await group.create_array("arr", shape=(2,), dtype="u1")
    assert store.requests.snapshot() == {"set_if_not_exists": 1, "get": 3}


async def test_create_hierarchy_of_1000_nodes_is_one_wave() -> None:
    inner = MemoryStore()
    store = LatencyStore(inner, latency=0.01)  # requests must wait for the peak to show
    arr = build_array_metadata(shape=(3,), dtype="f8")
    nodes = {f"g{i}/a{j}": arr for i in range(10) for j in range(99)}
    nodes.update({f"g{i}": GroupMetadataV3() for i in range(10)})  # 1000 nodes
    created = await aapi.create_hierarchy(store=store, nodes=nodes)
    assert len(created) == 1001  # plus the implicit root
    assert inner.requests.snapshot() == {"set_if_not_exists": 1001, "get": 1}
    assert store.limiter.peak_in_flight == 1002


async def test_racing_creators_one_wins() -> None:
    store = MemoryStore()
    await aapi.create_group(store)
    results = await asyncio.gather(
        *(aapi.create_group(store, path="race") for _ in range(16)), return_exceptions=True
    )
    assert sum(isinstance(r, AsyncGroup) for r in results) == 1
    assert all(isinstance(r, ContainsGroupError) for r in results if not isinstance(r, AsyncGroup))


async def test_existing_nodes_and_array_parents_are_refused_and_rolled_back() -> None:
    store = MemoryStore()
    await aapi.create_array(store, name="arr", shape=(2,), dtype="i1")
    before = dict(store._data)
    with pytest.raises(ContainsArrayError):
        await aapi.create_group(store, path="arr")
    with pytest.raises(ContainsArrayError, match="arr"):
        await aapi.create_array(store, name="arr/x/y", shape=(2,), dtype="i1")
    assert store._data == before  # x's group document was created, then removed again
    group = await AsyncGroup.open(store)
    with pytest.raises(ContainsArrayError):
        await group.create_group("arr/sub")
    with pytest.raises(ContainsArrayError):
        await group.require_group("arr")
    assert store._data == before


async def test_v2_parent_array_and_conflicts() -> None:
    store = MemoryStore()
    root = await aapi.create_group(store, zarr_format=2)
    await root.create_array("arr", shape=(2,), dtype="i1")
    before = dict(store._data)
    with pytest.raises(ContainsArrayError):
        await root.create_group("arr/sub")
    with pytest.raises(ContainsArrayError):
        await root.create_group("arr")
    assert store._data == before
    g = await root.create_group("g", attributes={"a": 1})
    assert g.attrs == {"a": 1}
    with pytest.raises(ContainsGroupError):
        await root.create_array("g", shape=(1,), dtype="i1")


async def test_create_hierarchy_refuses_mixed_formats_and_array_children() -> None:
    store = MemoryStore()
    arr = build_array_metadata(shape=(3,), dtype="f8")
    with pytest.raises(UnsupportedFormatError):
        await aapi.create_hierarchy(store=store, nodes={"a": GroupMetadataV2(), "b": arr})
    with pytest.raises(NodeTypeError):
        await aapi.create_hierarchy(store=store, nodes={"a": arr, "a/b": GroupMetadataV3()})
    assert store._data == {}
    root = await aapi.create_rooted_hierarchy(store=store, nodes={"x/y": arr})
    assert isinstance(root, AsyncGroup)
    assert sorted([p async for p, _ in root.members(max_depth=None)]) == ["x", "x/y"]


async def test_overwrite_replaces_the_subtree() -> None:
    store = MemoryStore()
    group = await aapi.create_group(store)
    arr = await group.create_array("a", shape=(4,), dtype="i4", chunks=(2,))
    await arr.setitem(slice(None), 7)
    assert "a/c/0" in store._data
    await group.create_group("a", overwrite=True)
    assert sorted(k for k in store._data if k.startswith("a/")) == ["a/zarr.json"]


async def test_modes() -> None:
    store = MemoryStore()
    with pytest.raises(GroupNotFoundError):
        await aapi.open_group(store, mode="r")
    with pytest.raises(GroupNotFoundError):
        await aapi.open_group(store, mode="r+")
    created = await aapi.open_group(store, mode="a", attributes={"v": 1})
    assert created.attrs == {"v": 1}
    again = await aapi.open_group(store, mode="a", attributes={"v": 2})
    assert again.attrs == {"v": 1}
    with pytest.raises(ContainsGroupError):
        await aapi.open_group(store, mode="w-")
    await again.create_group("child")
    wiped = await aapi.open_group(store, mode="w")
    assert [k async for k in wiped.keys()] == []  # noqa: SIM118
    ro = await aapi.open_group(store, mode="r")
    assert ro.read_only and not store.read_only
    with pytest.raises(ReadOnlyError):
        await ro.create_group("nope")
    with pytest.raises(ReadOnlyError):
        await ro.update_attributes({"x": 1})
    writable = await aapi.open_group(store, mode="r+")
    await writable.update_attributes({"x": 1})
    assert (await aapi.open_group(store, mode="r")).attrs == {"x": 1}
    with pytest.raises(ValueError, match="mode"):
        await aapi.open_group(store, mode="x")  # type: ignore[arg-type]


async def test_delete_and_require() -> None:
    store = MemoryStore()
    group = await aapi.create_group(store)
    sub = await group.require_group("s")
    assert (await group.require_group("s")).path == sub.path
    a, b = await group.require_groups("p", "q")
    assert (a.path, b.path) == ("p", "q")
    arr = await group.require_array("s/arr", shape=(3,), dtype="i4")
    same = await group.require_array("s/arr", shape=(3,), dtype="i4")
    assert same.path == arr.path
    with pytest.raises(NodeTypeError):
        await group.require_array("s/arr", shape=(5,), dtype="i4")
    with pytest.raises(ContainsGroupError):
        await group.require_array("s", shape=(3,), dtype="i4")
    await group.delitem("s")
    assert not any(k.startswith("s/") for k in store._data)
    with pytest.raises(KeyError):
        await group.delitem("s")


async def test_move_array_and_group() -> None:
    store = MemoryStore()
    group = await aapi.create_group(store)
    arr = await group.create_array("src/arr", shape=(4,), dtype="i4", chunks=(2,))
    await arr.setitem(slice(None), 3)
    await group.move("src", "dst/inner")
    assert not any(k.startswith("src") for k in store._data)
    moved = await group.getitem("dst/inner/arr")
    assert (await moved.getitem(slice(None))).tolist() == [3, 3, 3, 3]
    await group.create_group("other")
    with pytest.raises(ContainsGroupError):
        await group.move("dst", "other")
    with pytest.raises(KeyError):
        await group.move("missing", "x")
    with pytest.raises(ValueError, match="into itself"):
        await group.move("dst", "dst/deeper")


async def test_implicit_parents_never_overwrite_existing_groups() -> None:
    # zarr-python's implicit-group rule: a parent added only because a node lies below it is
    # created if missing and left alone if present, even with overwrite=True.
    store = MemoryStore()
    await aapi.create_group(store, path="a", attributes={"keep": 1})
    arr = build_array_metadata(shape=(2,), dtype="i1")
    created = await aapi.create_hierarchy(store=store, nodes={"a/b/c": arr}, overwrite=True)
    assert sorted(created) == ["a/b", "a/b/c"]
    assert (await aapi.open_group(store, path="a", mode="r")).attrs == {"keep": 1}
    # An explicit node at that path is replaced, subtree and all.
    await aapi.create_hierarchy(store=store, nodes={"a": GroupMetadataV3()}, overwrite=True)
    assert (await aapi.open_group(store, path="a", mode="r")).attrs == {}
    assert not any(k.startswith("a/b") for k in store._data)


async def test_malformed_ancestor_document_fails_cleanly() -> None:
    from cloudzarr.errors import InvalidMetadataError

    store = MemoryStore()
    await store.set("zarr.json", b"{broken")
    with pytest.raises(InvalidMetadataError, match=r"zarr\.json"):
        await aapi.create_array(store, name="a/b", shape=(1,), dtype="i1")
    assert sorted(store._data) == ["zarr.json"]  # the created a/ and a/b documents are gone
