"""Exact HTTP request counts on the S3 emulator (S3Store counts real requests)."""

from __future__ import annotations

from cloudzarr.api import asynchronous as aapi
from cloudzarr.groups import AsyncGroup
from cloudzarr.storage import Store

from .helpers import grid_nodes


async def test_create_array_with_parents_http_requests(s3_store: Store) -> None:
    s3_store.requests.reset()
    await aapi.create_array(s3_store, name="a/b/c", shape=(3,), dtype="i4")
    # One conditional PUT (If-None-Match: *) per document, one GET per parent, one round.
    assert s3_store.requests.snapshot() == {"PutObject": 4, "GetObject": 3}


async def test_discovery_and_consolidated_http_requests(s3_store: Store) -> None:
    nodes = grid_nodes(2, 2, 2)
    await aapi.create_hierarchy(store=s3_store, nodes=nodes)
    group = await AsyncGroup.open(s3_store, zarr_format=3)
    s3_store.requests.reset()
    found = [p async for p, _ in group.members(max_depth=None)]
    assert len(found) == len(nodes) - 1 == 14
    assert s3_store.requests.snapshot() == {"GetObject": 14, "ListObjectsV2": 7}

    await aapi.consolidate_metadata(s3_store)
    s3_store.requests.reset()
    consolidated = await AsyncGroup.open(s3_store, zarr_format=3)
    assert len([p async for p, _ in consolidated.members(max_depth=None)]) == 14
    await consolidated.getitem("g1/h1/a1")
    await consolidated.tree()
    assert s3_store.requests.snapshot() == {"GetObject": 1}
