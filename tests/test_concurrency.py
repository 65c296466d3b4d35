"""concurrency.gather: results in order; a failure ends every sibling before it surfaces."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from cloudzarr.concurrency import gather
from cloudzarr.errors import InvalidMetadataError
from cloudzarr.groups.io import get_docs
from cloudzarr.storage import MemoryStore
from cloudzarr.storage.latency import LatencyStore


async def test_results_in_the_order_given() -> None:
    async def value(n: int, delay: float) -> int:
        await asyncio.sleep(delay)
        return n

    assert await gather(value(1, 0.02), value(2, 0), value(3, 0.01)) == [1, 2, 3]
    assert await gather() == []


async def test_first_error_surfaces_after_the_siblings_are_cancelled() -> None:
    never = asyncio.Event()
    ended: list[str] = []

    async def waits_forever(name: str) -> None:
        try:
            await never.wait()
        finally:
            ended.append(name)

    async def fails() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):  # its own type, not an ExceptionGroup
        await gather(waits_forever("a"), fails(), waits_forever("b"))
    assert sorted(ended) == ["a", "b"]


async def test_get_docs_leaves_no_request_in_flight_when_one_document_is_bad() -> None:
    inner = MemoryStore()
    await inner.set("g/zarr.json", b"{not json")
    # The bad document answers at once; the two others would take a minute.
    delays = itertools.chain([0.0], itertools.repeat(60.0))
    store = LatencyStore(inner, distribution=lambda _r: next(delays))
    with pytest.raises(InvalidMetadataError, match=r"g/zarr\.json"):
        await get_docs(store, "g", ("zarr.json", ".zgroup", ".zattrs"))
    assert store.limiter.in_flight == 0
