"""Consolidated metadata: one-GET opens, zero-I/O queries, use_consolidated, never stale."""

from __future__ import annotations

import json

import pytest

from cloudzarr.api import asynchronous as aapi
from cloudzarr.errors import ConsolidatedMetadataError, NodeNotFoundError
from cloudzarr.groups import AsyncGroup
from cloudzarr.storage import MemoryStore

from .helpers import build


async def consolidated_paths(store: MemoryStore, path: str = "") -> list[str]:
    group = await AsyncGroup.open(store, path, use_consolidated=True)
    cm = group.metadata.consolidated_metadata
    assert cm is not None
    return cm.paths()


async def test_open_and_query_1110_nodes_with_one_get() -> None:
    store = MemoryStore()
    nodes = await build(store)
    await aapi.consolidate_metadata(store)
    store.requests.reset()
    group = await AsyncGroup.open(store, zarr_format=3)
    members = {p: n async for p, n in group.members(max_depth=None)}
    assert set(members) == set(nodes) - {""}
    child = await group.getitem("g7/h2/a3")
    assert child.attrs == {"k": 3}
    keys = [k async for k in group.keys()]  # noqa: SIM118
    assert keys == [f"g{i}" for i in range(10)]
    tree = await group.tree()
    assert "a9 (4,) int32" in tree
    sub = await group.getitem("g2")
    assert isinstance(sub, AsyncGroup)
    assert sorted([p async for p, _ in sub.members(max_depth=None)])[:2] == ["h0", "h0/a0"]
    assert store.requests.snapshot() == {"get": 1}


async def test_format_unknown_open_is_one_round_of_four_gets() -> None:
    store = MemoryStore()
    await build(store, outer=2, inner=2, arrays=2)
    await aapi.consolidate_metadata(store)
    store.requests.reset()
    group = await AsyncGroup.open(store)
    assert group.metadata.consolidated_metadata is not None
    assert store.requests.snapshot() == {"get": 4}


async def test_use_consolidated_false_walks_and_true_requires() -> None:
    store = MemoryStore()
    await build(store, outer=2, inner=1, arrays=1)
    with pytest.raises(ConsolidatedMetadataError):
        await AsyncGroup.open(store, use_consolidated=True)
    await aapi.consolidate_metadata(store)
    plain = await AsyncGroup.open(store, use_consolidated=False)
    assert plain.metadata.consolidated_metadata is None
    store.requests.reset()
    assert len([p async for p, _ in plain.members(max_depth=None)]) == 6
    assert store.requests.snapshot()["list_dir"] == 5  # root, g0, g1, g0/h0, g1/h0
    with pytest.raises(TypeError):
        await AsyncGroup.open(store, zarr_format=3, use_consolidated=".zmetadata")


async def test_v2_consolidated_and_custom_key() -> None:
    store = MemoryStore()
    nodes = await build(store, outer=2, inner=2, arrays=2, zarr_format=2)
    await aapi.consolidate_metadata(store)
    doc = json.loads(store._data[".zmetadata"])
    assert doc["zarr_consolidated_format"] == 1
    assert doc["metadata"][".zattrs"] == {"root": True}
    assert doc["metadata"]["g1/h1/a1/.zattrs"] == {"k": 1}
    store.requests.reset()
    group = await AsyncGroup.open(store, zarr_format=2)
    assert store.requests.snapshot() == {"get": 3}
    assert sorted([p async for p, _ in group.members(max_depth=None)]) == sorted(set(nodes) - {""})
    assert store.requests.snapshot() == {"get": 3}
    await store.set("custom", store._data.pop(".zmetadata"))
    assert (await AsyncGroup.open(store)).metadata.consolidated_metadata is None
    custom = await AsyncGroup.open(store, use_consolidated="custom")
    assert custom.metadata.consolidated_metadata is not None
    with pytest.raises(ConsolidatedMetadataError):
        await AsyncGroup.open(store, use_consolidated="missing")


async def test_create_delete_attrs_move_update_every_consolidated_ancestor() -> None:
    store = MemoryStore()
    await build(store, outer=2, inner=2, arrays=1)
    await aapi.consolidate_metadata(store)
    await aapi.consolidate_metadata(store, "g0")  # a nested holder too
    root = await AsyncGroup.open(store, use_consolidated=False)
    g0 = await AsyncGroup.open(store, "g0", use_consolidated=False)

    await g0.create_array("new/deep", shape=(2,), dtype="f4")
    assert {"g0/new", "g0/new/deep"} <= set(await consolidated_paths(store))
    assert {"new", "new/deep"} <= set(await consolidated_paths(store, "g0"))

    await root.delitem("g0/h1")
    assert not any(p.startswith("g0/h1") for p in await consolidated_paths(store))
    assert "h1" not in await consolidated_paths(store, "g0")

    h0 = await root.getitem("g0/h0")
    assert isinstance(h0, AsyncGroup)
    await h0.update_attributes({"note": "x"})
    top = await AsyncGroup.open(store, use_consolidated=True)
    assert (await top.getitem("g0/h0")).attrs == {"note": "x"}
    # The group's own consolidated metadata survives its attribute update.
    g0_again = await AsyncGroup.open(store, "g0")
    assert g0_again.metadata.consolidated_metadata is not None
    await g0_again.update_attributes({"i": 99})
    assert (await AsyncGroup.open(store, "g0")).metadata.consolidated_metadata is not None
    assert (await (await AsyncGroup.open(store)).getitem("g0")).attrs == {"i": 99}

    arr = await root.getitem("g0/new/deep")
    await arr.update_attributes({"units": "m"})  # the array's own write path
    assert (await (await AsyncGroup.open(store)).getitem("g0/new/deep")).attrs == {"units": "m"}

    await root.move("g0/new", "g1/moved")
    paths = await consolidated_paths(store)
    assert "g0/new" not in paths and "g0/new/deep" not in paths
    assert {"g1/moved", "g1/moved/deep"} <= set(paths)
    assert "new" not in await consolidated_paths(store, "g0")
    # What the consolidated metadata says matches a fresh walk of the store.
    fresh = sorted([p async for p, _ in root.members(max_depth=None)])
    assert sorted(paths) == fresh


async def test_in_memory_group_sees_its_own_writes() -> None:
    store = MemoryStore()
    await build(store, outer=1, inner=1, arrays=1)
    group = await aapi.consolidate_metadata(store)
    await group.create_group("fresh")
    assert await group.contains("fresh")
    await group.delitem("g0")
    assert not await group.contains("g0/h0")
    assert [k async for k in group.keys()] == ["fresh"]  # noqa: SIM118


@pytest.mark.parametrize("zarr_format", [2, 3])
async def test_reconsolidating_root_ignores_stale_nested_metadata(zarr_format: int) -> None:
    store = MemoryStore()
    await build(store, outer=1, inner=1, arrays=1, zarr_format=zarr_format)
    await aapi.consolidate_metadata(store, "g0/h0")  # grandchild holder
    await aapi.consolidate_metadata(store)
    # Another tool (not cloudzarr) adds an array below the grandchild: both are now stale.
    doc = "zarr.json" if zarr_format == 3 else ".zarray"
    await store.set(f"g0/h0/extra/{doc}", store._data[f"g0/h0/a0/{doc}"])
    assert "g0/h0/extra" not in await consolidated_paths(store)
    await aapi.consolidate_metadata(store)
    assert "g0/h0/extra" in await consolidated_paths(store)
    assert "extra" in await consolidated_paths(store, "g0/h0")


async def test_malformed_consolidated_documents_raise_clear_errors() -> None:
    store = MemoryStore()
    await build(store, outer=1, inner=1, arrays=1)
    await aapi.consolidate_metadata(store)
    doc = json.loads(store._data["zarr.json"])
    orphan = json.loads(json.dumps(doc))
    del orphan["consolidated_metadata"]["metadata"]["g0/h0"]
    await store.set("zarr.json", json.dumps(orphan).encode())
    with pytest.raises(ConsolidatedMetadataError, match="parent group 'g0/h0'"):
        await AsyncGroup.open(store)
    bad_kind = json.loads(json.dumps(doc))
    bad_kind["consolidated_metadata"]["kind"] = "external"
    await store.set("zarr.json", json.dumps(bad_kind).encode())
    with pytest.raises(ConsolidatedMetadataError, match="kind"):
        await AsyncGroup.open(store)
    bad_entry = json.loads(json.dumps(doc))
    bad_entry["consolidated_metadata"]["metadata"]["g0/h0/a0"]["shape"] = "wide"
    await store.set("zarr.json", json.dumps(bad_entry).encode())
    group = await AsyncGroup.open(store)  # entries are validated when first used
    with pytest.raises(Exception, match="g0/h0/a0"):
        await group.getitem("g0/h0/a0")
    # A missing member is a KeyError, answered from the consolidated metadata.
    with pytest.raises(NodeNotFoundError):
        await group.getitem("nope")


async def test_concurrent_writes_in_one_process_do_not_lose_entries() -> None:
    import asyncio

    from cloudzarr.storage import LatencyStore

    inner = MemoryStore()
    store = LatencyStore(inner, latency=0.002)  # interleave the read-modify-writes
    root = await aapi.create_group(store)
    await aapi.consolidate_metadata(store)
    await asyncio.gather(*(root.create_group(f"c{i}") for i in range(12)))
    await asyncio.gather(*(root.create_array(f"c{i}/x", shape=(1,), dtype="i1") for i in range(6)))
    paths = set(await consolidated_paths(inner))
    assert {f"c{i}" for i in range(12)} | {f"c{i}/x" for i in range(6)} == paths
