"""32 concurrent zarr-python ``set_if_not_exists`` calls on one key through the adapter: exactly
one write takes effect, on every backend of the project (memory, local, fsspec memory and local,
S3, GCS and Azure emulators).

zarr-python's interface returns nothing from ``set_if_not_exists``, so the winners are counted
by a measuring wrapper under the adapter that records what the backend answered to each create.
"""

from __future__ import annotations

import asyncio

from zarr.core.buffer import cpu

from cloudzarr.interop import as_zarr_store
from cloudzarr.storage import Store, StoreWrapper

RACERS = 32


class CreateCounter(StoreWrapper):
    """Counts the creates the wrapped backend accepted."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.created = 0

    async def _set_if_not_exists(self, key: str, value: bytes) -> bool:
        created = await super()._set_if_not_exists(key, value)
        self.created += created
        return created


async def test_one_winner_through_zarr_on_every_backend(any_store: Store) -> None:
    counter = CreateCounter(any_store)
    adapter = as_zarr_store(counter)
    await asyncio.gather(
        *(
            adapter.set_if_not_exists("g/zarr.json", cpu.Buffer.from_bytes(b"%d" % i))
            for i in range(RACERS)
        )
    )
    assert counter.created == 1
    value = await any_store.get("g/zarr.json")
    assert value is not None and int(value) in range(RACERS)
    # A later create of the existing key through zarr-python changes nothing.
    await adapter.set_if_not_exists("g/zarr.json", cpu.Buffer.from_bytes(b"late"))
    assert counter.created == 1
    assert await any_store.get("g/zarr.json") == value
