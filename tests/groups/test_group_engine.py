"""The group engine on every backend: memory, local, fsspec, and the S3/GCS/Azure emulators."""

from __future__ import annotations

import asyncio

import pytest

from cloudzarr.api import asynchronous as aapi
from cloudzarr.errors import ContainsGroupError, NodeNotFoundError
from cloudzarr.groups import AsyncGroup
from cloudzarr.storage import Store

from .helpers import grid_nodes


@pytest.mark.parametrize("zarr_format", [2, 3])
async def test_discover_consolidate_and_reopen(any_store: Store, zarr_format: int) -> None:
    nodes = grid_nodes(2, 2, 2, zarr_format=zarr_format)
    await aapi.create_hierarchy(store=any_store, nodes=nodes)
    root = await aapi.open_group(any_store, mode="r")
    assert root.zarr_format == zarr_format
    found = {p: n async for p, n in root.members(max_depth=None)}
    assert set(found) == set(nodes) - {""}
    assert found["g1/h0/a1"].attrs == {"k": 1}
    assert [p async for p, _ in root.members()] == ["g0", "g1"] or sorted(
        [p async for p, _ in root.members()]
    ) == ["g0", "g1"]

    await aapi.consolidate_metadata(any_store)
    consolidated = await aapi.open_consolidated(any_store, mode="r")
    listed = sorted([p async for p, _ in consolidated.members(max_depth=None)])
    assert listed == sorted(found)
    array = await consolidated.getitem("g0/h1/a0")
    assert tuple(array.shape) == (4,)


async def test_writes_keep_consolidated_metadata_current(any_store: Store) -> None:
    root = await aapi.create_group(any_store, attributes={"a": 1})
    await root.create_group("g/h")
    await aapi.consolidate_metadata(any_store)
    arr = await root.create_array("g/h/x", shape=(6,), dtype="f4", chunks=(3,))
    await arr.setitem(slice(None), 1.5)
    await root.move("g/h", "k")
    await root.delitem("g")
    reopened = await aapi.open_group(any_store, mode="r", use_consolidated=True)
    assert sorted([p async for p, _ in reopened.members(max_depth=None)]) == ["k", "k/x"]
    moved = await reopened.getitem("k/x")
    assert (await moved.getitem(slice(None))).tolist() == [1.5] * 6
    with pytest.raises(NodeNotFoundError):
        await reopened.getitem("g")
    walked = await aapi.open_group(any_store, mode="r", use_consolidated=False)
    assert sorted([p async for p, _ in walked.members(max_depth=None)]) == ["k", "k/x"]


async def test_concurrent_creators_of_one_group(any_store: Store) -> None:
    await aapi.create_group(any_store)
    results = await asyncio.gather(
        *(aapi.create_group(any_store, path="shared") for _ in range(8)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, AsyncGroup)]
    assert len(winners) == 1, results
    assert all(isinstance(r, ContainsGroupError) for r in results if r not in winners)


async def test_attributes_persist(any_store: Store) -> None:
    group = await aapi.create_group(any_store, path="p", zarr_format=2)
    await group.update_attributes({"x": [1, 2], "y": "z"})
    again = await aapi.open_group(any_store, path="p", mode="r")
    assert again.attrs == {"x": [1, 2], "y": "z"}
    await group.set_attributes({})
    assert (await aapi.open_group(any_store, path="p", mode="r")).attrs == {}
