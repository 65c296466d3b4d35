"""Pending marks on consolidated metadata, and batches that update holders once at the end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

import cloudzarr
from cloudzarr.api import asynchronous as aapi
from cloudzarr.errors import (
    ConsolidatedMetadataError,
    InvalidArgumentError,
    StaleConsolidatedMetadataError,
)
from cloudzarr.groups import AsyncGroup, pending, upkeep
from cloudzarr.storage import LocalStore, MemoryStore, Store


async def consolidated_root(store: Store, zarr_format: int = 3) -> AsyncGroup:
    await aapi.create_group(store, zarr_format=zarr_format)
    return await aapi.consolidate_metadata(store)


async def walked(store: Store) -> set[str]:
    group = await AsyncGroup.open(store, use_consolidated=False)
    return {p async for p, _ in group.members(None)}


@pytest.mark.parametrize("zarr_format", [2, 3])
async def test_a_pending_holder_is_walked_or_refused(zarr_format: int) -> None:
    store = MemoryStore()
    root = await consolidated_root(store, zarr_format)
    await pending.mark_holders(store, zarr_format, [""], "dead-writer")
    # What a writer that died after its mark leaves behind: a node the listing lacks.
    await AsyncGroup.create(store, "orphan", zarr_format=zarr_format)
    assert not (await AsyncGroup.open(store)).consolidated
    assert {p async for p, _ in (await AsyncGroup.open(store)).members(None)} == {"orphan"}
    with pytest.raises(StaleConsolidatedMetadataError, match="pending") as info:
        await AsyncGroup.open(store, use_consolidated=True)
    assert isinstance(info.value, ConsolidatedMetadataError)
    with pytest.raises(StaleConsolidatedMetadataError):
        await aapi.open_consolidated(store)
    # Re-consolidating clears the mark.
    await aapi.consolidate_metadata(store)
    fresh = await AsyncGroup.open(store, use_consolidated=True)
    assert fresh.metadata.consolidated_metadata is not None
    assert set(fresh.metadata.consolidated_metadata.paths()) == {"orphan"}
    assert root.consolidated


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_python_reads_a_pending_holder(tmp_path: Path, zarr_format: int) -> None:
    store = LocalStore(tmp_path / "s")
    group = cloudzarr.create_group(store, zarr_format=zarr_format)
    group.create_group("a")
    cloudzarr.consolidate_metadata(store)
    from cloudzarr.sync import sync

    sync(pending.mark_holders(store, zarr_format, [""], "writer"))
    name = "zarr.json" if zarr_format == 3 else ".zmetadata"
    assert upkeep.PENDING in json.loads((tmp_path / "s" / name).read_text())
    opened = zarr.open_group(str(tmp_path / "s"), mode="r", zarr_format=zarr_format)
    assert list(opened.keys()) == ["a"]


async def test_a_plain_create_leaves_the_holder_clean_and_current() -> None:
    store = MemoryStore()
    root = await consolidated_root(store)
    await root.create_group("a")
    array = await root.create_array("x", shape=(4,), dtype="i4")
    await array.update_attributes({"k": 1})
    await array.resize((8,))
    fresh = await AsyncGroup.open(store, use_consolidated=True)
    assert upkeep.PENDING not in json.loads((await store.get("zarr.json")) or b"")
    x = await fresh.getitem("x")
    assert (x.shape, x.attrs) == ((8,), {"k": 1})
    assert {p async for p, _ in fresh.members(None)} == await walked(store)


async def test_a_failed_create_takes_its_mark_back() -> None:
    store = MemoryStore()
    root = await consolidated_root(store)
    await root.create_group("a")
    with pytest.raises(FileExistsError):
        await root.create_group("a")
    assert upkeep.PENDING not in json.loads((await store.get("zarr.json")) or b"")


@pytest.mark.parametrize("zarr_format", [2, 3])
async def test_a_batch_writes_each_holder_twice(zarr_format: int) -> None:
    store = MemoryStore()
    root = await consolidated_root(store, zarr_format)
    seen: list[tuple[int, int]] = []
    store.requests.reset()
    async with root.batch(progress=lambda done, total: seen.append((done, total))):
        for i in range(40):
            await root.create_group(f"g{i}")
        await root.create_array("g0/x", shape=(3,), dtype="i4")
        await (await root.getitem("g1")).update_attributes({"k": 1})
        await root.delitem("g2")
        await root.move("g3", "moved")
    # The holder: marked once (a swap) and updated once (a swap), whatever happened inside;
    # the third swap is g1's own attribute change.
    assert store.requests.snapshot()["set_if_version"] == 3
    assert seen == [(1, 1)]
    expected = await walked(store)
    assert "g2" not in expected and "moved" in expected and "g0/x" in expected
    fresh = await AsyncGroup.open(store, use_consolidated=True)
    assert {p async for p, _ in fresh.members(None)} == expected
    assert (await fresh.getitem("g1")).attrs == {"k": 1}


async def test_a_batch_that_raises_still_commits_and_batches_do_not_nest() -> None:
    store = MemoryStore()
    root = await consolidated_root(store)
    with pytest.raises(RuntimeError):
        async with root.batch():
            await root.create_group("a")
            with pytest.raises(InvalidArgumentError, match="do not nest"):
                async with root.batch():
                    pass
            raise RuntimeError
    fresh = await AsyncGroup.open(store, use_consolidated=True)
    assert {p async for p, _ in fresh.members(None)} == {"a"}


def test_sync_batch_and_progress_callbacks(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    cloudzarr.create_group(store)
    cloudzarr.consolidate_metadata(store)
    root = cloudzarr.open_group(store, mode="r+")
    with root.batch():
        for i in range(5):
            root.create_group(f"g{i}")
        root.attrs["done"] = True
    assert sorted(cloudzarr.open_consolidated(store).group_keys()) == [f"g{i}" for i in range(5)]
    calls: list[tuple[int, int]] = []
    cloudzarr.consolidate_metadata(store, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (5, 5)
    assert [d for d, _ in calls[:-1]] == [1, 2, 3, 4, 5]
    calls.clear()
    meta = cloudzarr.open_group(store).metadata
    nodes = {f"h{i}": meta.with_consolidated(None) for i in range(3)}
    cloudzarr.create_hierarchy(store=store, nodes=nodes, progress=lambda d, t: calls.append((d, t)))
    assert sorted(calls) == [(1, 3), (2, 3), (3, 3)]
    assert np.array_equal(
        sorted(cloudzarr.open_consolidated(store).group_keys())[:3], ["g0", "g1", "g2"]
    )
