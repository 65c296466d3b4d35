"""Building test hierarchies quickly (one create_hierarchy wave)."""

from __future__ import annotations

from typing import Any

from cloudzarr.api import asynchronous as aapi
from cloudzarr.arrays import build_array_metadata
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.storage.base import Store


def grid_nodes(
    outer: int = 10, inner: int = 10, arrays: int = 10, *, zarr_format: int = 3
) -> dict[str, Any]:
    """``outer`` groups x ``inner`` groups x ``arrays`` arrays (1110 nodes by default)."""
    group = GroupMetadataV3 if zarr_format == 3 else GroupMetadataV2
    arr = build_array_metadata(shape=(4,), dtype="int32", chunks=(2,), zarr_format=zarr_format)
    nodes: dict[str, Any] = {"": group(attributes={"root": True})}
    for i in range(outer):
        nodes[f"g{i}"] = group(attributes={"i": i})
        for j in range(inner):
            nodes[f"g{i}/h{j}"] = group()
            for k in range(arrays):
                nodes[f"g{i}/h{j}/a{k}"] = arr.with_attributes({"k": k})
    return nodes


async def build(store: Store, **kwargs: Any) -> dict[str, Any]:
    """Write a grid hierarchy into ``store`` and reset its request counts."""
    nodes = grid_nodes(**kwargs)
    await aapi.create_hierarchy(store=store, nodes=nodes)
    store.requests.reset()
    store.limiter.reset_peak()
    return nodes
