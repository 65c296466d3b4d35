"""Member discovery without consolidated metadata: exact request counts, depth, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

from cloudzarr.api import asynchronous as aapi
from cloudzarr.arrays import AsyncArray
from cloudzarr.groups import AsyncGroup
from cloudzarr.storage import LatencyStore, MemoryStore, Store, StoreWrapper

from .helpers import build, grid_nodes


async def test_whole_tree_costs_one_get_per_node_and_one_list_per_group() -> None:
    store = MemoryStore()
    nodes = await build(store)
    group = await AsyncGroup.open(store, zarr_format=3)
    store.requests.reset()
    found = {p: n async for p, n in group.members(max_depth=None)}
    assert set(found) == set(nodes) - {""}
    assert len(found) == 1110
    assert store.requests.snapshot() == {"get": 1110, "list_dir": 111}
    assert isinstance(found["g3/h4/a5"], AsyncArray)
    assert found["g3/h4/a5"].attrs == {"k": 5}
    assert isinstance(found["g3/h4"], AsyncGroup)
    assert found["g3"].attrs == {"i": 3}


async def test_walk_overlaps_levels_behind_a_slow_store() -> None:
    inner = MemoryStore()
    await build(inner)
    store = LatencyStore(inner, latency=0.02)
    group = await AsyncGroup.open(store, zarr_format=3)
    store.requests.reset()
    store.limiter.reset_peak()
    found = [p async for p, _ in group.members(max_depth=None)]
    assert len(found) == 1110
    assert store.requests.snapshot() == {"get": 1110, "list_dir": 111}
    # zarr-python never exceeds 10; a level-by-level walk would still be far above 32 only at
    # the leaves. Subtrees must overlap for the peak to pass the number of one group's children.
    assert store.limiter.peak_in_flight >= 32


class _SlowKeys(StoreWrapper):
    """Delays the requests for chosen keys: a model of one slow object, not synchronisation."""

    def __init__(self, store: Store, slow: set[str], delay: float) -> None:
        super().__init__(store)
        self.slow = slow
        self.delay = delay

    def _config(self) -> dict[str, Any]:
        return {"store": self._inner, "slow": self.slow, "delay": self.delay}

    async def _call(self, operation: str, key: str, call: Any, *, nbytes_in: int = 0) -> Any:
        if key in self.slow:
            await asyncio.sleep(self.delay)
        return await call()


async def test_child_group_listed_before_siblings_finish() -> None:
    # One first-level group's metadata is slow. A walk that waits for all siblings before
    # descending (zarr-python) finds nothing below g0 until g5 arrives; ours descends at once.
    inner = MemoryStore()
    await build(inner, outer=6, inner=2, arrays=1)
    store = _SlowKeys(inner, {"g5/zarr.json"}, delay=0.3)
    group = await AsyncGroup.open(store, zarr_format=3)
    order = [p async for p, _ in group.members(max_depth=None)]
    assert len(order) == 6 + 12 + 12
    assert order.index("g0/h0/a0") < order.index("g5")


async def test_max_depth_limits_levels_and_requests() -> None:
    store = MemoryStore()
    await build(store, outer=3, inner=2, arrays=2)
    group = await AsyncGroup.open(store, zarr_format=3)
    store.requests.reset()
    depth0 = sorted([p async for p, _ in group.members(max_depth=0)])
    assert depth0 == ["g0", "g1", "g2"]
    assert store.requests.snapshot() == {"get": 3, "list_dir": 1}
    store.requests.reset()
    depth1 = sorted([p async for p, _ in group.members(max_depth=1)])
    assert depth1 == sorted(["g0", "g1", "g2"] + [f"g{i}/h{j}" for i in range(3) for j in range(2)])
    assert store.requests.snapshot() == {"get": 9, "list_dir": 4}


async def test_v2_child_costs_three_gets_in_one_round() -> None:
    store = MemoryStore()
    nodes = await build(store, outer=2, inner=2, arrays=3, zarr_format=2)
    group = await AsyncGroup.open(store, zarr_format=2)
    store.requests.reset()
    found = {p: n async for p, n in group.members(max_depth=None)}
    assert set(found) == set(nodes) - {""}
    n_children = len(found)
    n_groups = 1 + sum(1 for n in found.values() if isinstance(n, AsyncGroup))
    assert store.requests.snapshot() == {"get": 3 * n_children, "list_dir": n_groups}
    assert found["g1"].attrs == {"i": 1}
    assert found["g1/h0/a2"].attrs == {"k": 2}
    assert found["g1/h0/a2"].zarr_format == 2


async def test_stray_keys_and_document_names_are_not_members() -> None:
    store = MemoryStore()
    await aapi.create_hierarchy(store=store, nodes={"": grid_nodes(0, 0, 0)[""]})
    await store.set("junk/data.bin", b"x")
    await store.set("notes.txt", b"x")
    group = await AsyncGroup.open(store)
    assert [p async for p, _ in group.members(max_depth=None)] == []


async def test_error_in_a_child_document_names_the_path() -> None:
    import pytest

    from cloudzarr.errors import InvalidMetadataError
    from cloudzarr.metadata.unreadable import UnreadableNode

    store = MemoryStore()
    await build(store, outer=2, inner=1, arrays=1)
    await store.set("g1/h0/zarr.json", b"{not json")
    group = await AsyncGroup.open(store)
    # The broken member is listed (it hides none of its siblings); opening it names it.
    found = {p: n async for p, n in group.members(max_depth=None)}
    assert "g1/h0" in found and "g0/h0" in found
    assert isinstance(found["g1/h0"], UnreadableNode)
    with pytest.raises(InvalidMetadataError, match=r"g1/h0/zarr\.json"):
        await group.getitem("g1/h0")


async def test_wide_group_beyond_the_task_budget_is_found_completely() -> None:
    from cloudzarr.arrays import build_array_metadata

    inner = MemoryStore(concurrency=4)  # task budget: max(1024, 16 * 4) = 1024 children
    arr = build_array_metadata(shape=(1,), dtype="i1")
    await aapi.create_hierarchy(store=inner, nodes={f"a{i}": arr for i in range(2500)})
    store = LatencyStore(inner, latency=0.0005)
    group = await AsyncGroup.open(store, zarr_format=3)
    inner.requests.reset()
    found = {p async for p, _ in group.members(max_depth=None)}
    assert found == {f"a{i}" for i in range(2500)}
    assert inner.requests.snapshot() == {"get": 2500, "list_dir": 1}
    assert store.limiter.peak_in_flight <= 4
