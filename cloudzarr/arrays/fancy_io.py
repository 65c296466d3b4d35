"""Reading and writing orthogonal and coordinate selections through an array's chunk I/O.

Reads: each touched chunk's *box* (a basic selection) is read by the array's own chunk I/O
into a small buffer (so a sharded array fetches the shard index and only the inner chunks
under the box), then the selected elements are picked out of it. Writes: a regular chunk is
read (unless the selection covers it), merged with the fancy index and rewritten; a shard is
read once, its box decoded, merged, and re-encoded by the sharding codec, which keeps the
encoded bytes of the inner chunks outside the box. Chunks are handled ``tasks_in_flight`` at a
time under the store's limiter, as basic selections are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cloudzarr.arrays.chunk_io import ShardedChunkIO
from cloudzarr.arrays.cpu import run_cpu
from cloudzarr.arrays.fill import full_chunk
from cloudzarr.arrays.indexing import ChunkProjection
from cloudzarr.arrays.selection import CoordinateIndexer, FancyPart, OrthogonalIndexer
from cloudzarr.concurrency import for_each
from cloudzarr.errors import ChunkDecodeError

if TYPE_CHECKING:
    from cloudzarr.arrays.async_array import AsyncArray

__all__ = ["read_selection", "write_selection"]

Indexer = OrthogonalIndexer | CoordinateIndexer


def _workers(array: AsyncArray, nchunks: int) -> int:
    io = array._chunk_io
    return min(nchunks, io.tasks_in_flight(array.store.limiter.size))


async def read_selection(array: AsyncArray, indexer: Indexer) -> np.ndarray:
    """The selected elements as a new array of ``indexer.shape``."""
    io = array._chunk_io
    coordinate = isinstance(indexer, CoordinateIndexer)
    out = io.empty((int(np.prod(indexer.shape, dtype=np.int64)),) if coordinate else indexer.shape)
    if indexer.nchunks == 0:
        return out.reshape(indexer.shape)

    async def one(part: FancyPart) -> None:
        box = io.empty(part.box_shape)
        full = tuple(slice(None) for _ in part.box_shape)
        proj = ChunkProjection(part.chunk_coords, part.box, full, part.is_complete)
        await io.read(array.store, array._chunk_key(part.chunk_coords), proj, box)
        out[part.out] = box[part.pick]

    await for_each(indexer, one, _workers(array, indexer.nchunks))
    return out.reshape(indexer.shape)


def _chunk_values(part: FancyPart, value: np.ndarray, coordinate: bool) -> np.ndarray:
    """The values a part writes, shaped like ``chunk[part.chunk_index]``."""
    if coordinate:
        return value[part.out]
    shape = np.broadcast_shapes(*(np.shape(ix) for ix in part.chunk_index))
    return np.asarray(value[part.out]).reshape(shape)


async def write_selection(array: AsyncArray, indexer: Indexer, value: np.ndarray) -> None:
    """Write ``value`` (already of ``indexer.shape`` and the array's dtype) to the selection."""
    io = array._chunk_io
    store = array.store
    coordinate = isinstance(indexer, CoordinateIndexer)
    flat = value.reshape(-1) if coordinate else value
    if indexer.nchunks == 0:
        return

    async def one(part: FancyPart) -> None:
        key = array._chunk_key(part.chunk_coords)
        values = _chunk_values(part, flat, coordinate)
        if isinstance(io, ShardedChunkIO):
            await _write_shard(io, store, key, part, values)
            return
        proj = ChunkProjection(part.chunk_coords, part.chunk_index, (), part.is_complete)
        await io.write(store, key, proj, values)

    await for_each(indexer, one, _workers(array, indexer.nchunks))


async def _write_shard(
    io: ShardedChunkIO, store: Any, key: str, part: FancyPart, values: np.ndarray
) -> None:
    extent = io._extent(part.chunk_coords)
    existing = await store.get(key)

    def merge() -> bytes | None:
        codec = io.codec
        if existing is None:
            box = full_chunk(part.box_shape, io.dtype, io.fill_value)
        else:
            box = np.empty(part.box_shape, dtype=io.dtype)
            codec._decode_part_into(existing, key, part.box, extent, box)
        index = _box_index(part)
        box[index] = values.reshape(np.broadcast_shapes(*(np.shape(ix) for ix in index)))
        return codec.update(existing, key, part.box, extent, box)

    try:
        data = await run_cpu(io.chunk_nbytes, merge)
    except ChunkDecodeError as exc:
        raise ChunkDecodeError(f"array {io.name!r}: {exc}") from exc
    await io._store_result(store, key, data)


def _box_index(part: FancyPart) -> tuple[Any, ...]:
    """``part.chunk_index`` relative to the box (dropped dimensions removed)."""
    out: list[Any] = []
    for entry, ix in zip(part.box, part.chunk_index, strict=True):
        if isinstance(entry, int):
            continue
        out.append((ix - entry.start) // (entry.step or 1))
    if len(out) == len(part.chunk_index):
        return tuple(out)
    # Dropped dimensions were size-1 axes of the np.ix_ arrays: squeeze them out.
    dropped = [i for i, e in enumerate(part.box) if isinstance(e, int)]
    return tuple(np.squeeze(ix, axis=tuple(dropped)) for ix in out)
