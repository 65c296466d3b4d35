"""Reading and writing one stored chunk (or shard) of an array, given its projection.

:class:`RegularChunkIO` stores one object per chunk; :class:`ShardedChunkIO` one object per
shard, read partially through :class:`~cloudzarr.arrays.sharding.ShardingCodec`. Both take a
:class:`~cloudzarr.arrays.indexing.ChunkProjection` and the caller's output (or value) array, so
decoded data goes straight to its place in the output without an intermediate selection array.

Copies avoided on the hot path: chunks are fetched as zero-copy buffers
(:meth:`~cloudzarr.storage.base.Store.get_buffer`) and decoded by
:func:`~cloudzarr.arrays.scratch.decode_to_region`, straight into the output when the region is
the whole chunk, else through a reused per-thread scratch buffer.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import numcodecs
import numpy as np

from cloudzarr.arrays import flights
from cloudzarr.arrays.cpu import run_cpu
from cloudzarr.arrays.fill import full_chunk, is_all_fill
from cloudzarr.arrays.flights import Flight
from cloudzarr.arrays.indexing import ChunkProjection
from cloudzarr.arrays.scratch import decode_to_region, empty_output, in_layout
from cloudzarr.arrays.sharding import ShardingCodec
from cloudzarr.codecs.pipeline import CodecPipeline
from cloudzarr.config import config
from cloudzarr.errors import ChunkDecodeError, MetadataError, UnsupportedCodecError
from cloudzarr.metadata.array_v2 import ArrayMetadataV2
from cloudzarr.metadata.array_v3 import ArrayMetadataV3
from cloudzarr.metadata.dtypes import is_string_dtype
from cloudzarr.storage.base import Store

__all__ = ["ChunkIO", "RegularChunkIO", "ShardedChunkIO", "make_chunk_io"]

ArrayMetadata = ArrayMetadataV2 | ArrayMetadataV3

#: Decoded bytes one read or write call keeps between fetching and placing chunks. Bounds the
#: memory of a call beyond its output to about this much, whatever the store's concurrency.
BYTES_IN_FLIGHT = 32 * 2**20


def _place(chunk: np.ndarray, proj: ChunkProjection, out: np.ndarray) -> None:
    _region(out, proj.out_selection)[...] = chunk[proj.chunk_selection]


def _fill_value(metadata: ArrayMetadata) -> Any:
    if isinstance(metadata, ArrayMetadataV2):
        return metadata.effective_fill_value
    return metadata.fill_value


def _region(out: np.ndarray, selection: tuple[Any, ...]) -> np.ndarray:
    # The trailing Ellipsis keeps a 0-d region a view instead of a scalar copy.
    return out[(*selection, Ellipsis)]


class ChunkIO:
    """Chunk-level reads and writes of one array (see the module docstring)."""

    def __init__(self, metadata: ArrayMetadata, path: str) -> None:
        self.metadata = metadata
        self.name = "/" + path
        self.dtype = metadata.dtype
        self.fill_value = _fill_value(metadata)
        self.array_shape = metadata.shape
        self.grid_chunks = metadata.chunks
        itemsize = 8 if is_string_dtype(self.dtype) else self.dtype.itemsize
        self.chunk_nbytes = math.prod(self.grid_chunks) * itemsize
        # Read when the array is opened, as zarr-python does; Array.with_config overrides it.
        self.write_empty_chunks = bool(config.get("array.write_empty_chunks"))

    # --- descriptions ----------------------------------------------------------------------

    @property
    def read_chunk_shape(self) -> tuple[int, ...]:
        """The chunk shape users see (inner chunks when sharded)."""
        return self.grid_chunks

    @property
    def shard_shape(self) -> tuple[int, ...] | None:
        """The shard shape, or None."""
        return None

    def _v3_codecs(self) -> tuple[Any, ...]:
        assert isinstance(self.metadata, ArrayMetadataV3)
        return self.metadata.codecs

    @property
    def filters(self) -> tuple[Any, ...]:
        """Array->array codecs (v3 specs) or numcodecs filters (v2)."""
        if isinstance(self.metadata, ArrayMetadataV2):
            return tuple(numcodecs.get_codec(dict(f)) for f in self.metadata.filters or ())
        return tuple(c for c in self._v3_codecs() if c.kind == "array_array")

    @property
    def compressors(self) -> tuple[Any, ...]:
        """Bytes->bytes codecs (v3 specs) or the numcodecs compressor (v2)."""
        if isinstance(self.metadata, ArrayMetadataV2):
            comp = self.metadata.compressor
            return () if comp is None else (numcodecs.get_codec(dict(comp)),)
        return tuple(c for c in self._v3_codecs() if c.kind == "bytes_bytes")

    @property
    def serializer(self) -> Any:
        """The array->bytes codec spec (v3), None for v2."""
        if isinstance(self.metadata, ArrayMetadataV2):
            return None
        return next(c for c in self._v3_codecs() if c.kind == "array_bytes")

    # --- helpers ---------------------------------------------------------------------------

    def empty(self, shape: tuple[int, ...]) -> np.ndarray:
        """An uninitialised output array of ``shape``."""
        return empty_output(shape, self.dtype)

    def tasks_in_flight(self, limiter_size: int) -> int:
        """How many chunk tasks one call runs at once."""
        by_memory = BYTES_IN_FLIGHT // max(self.chunk_nbytes, 1)
        return max(4, min(limiter_size, by_memory))

    def _extent(self, coords: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(
            min(c, n - k * c)
            for k, c, n in zip(coords, self.grid_chunks, self.array_shape, strict=True)
        )

    def _error(self, key: str, exc: BaseException) -> ChunkDecodeError:
        return ChunkDecodeError(f"array {self.name!r}: chunk {key!r} could not be decoded: {exc}")

    async def _store_result(self, store: Store, key: str, data: bytes | None) -> None:
        try:
            if data is None:
                await store.delete(key)
            else:
                await store.set(key, data)
        finally:
            # A read starting after this write must not join a fetch begun before it.
            flights.forget(store, key)

    async def read(
        self, store: Store, key: str, proj: ChunkProjection, out: np.ndarray
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def write(
        self, store: Store, key: str, proj: ChunkProjection, value: np.ndarray
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class RegularChunkIO(ChunkIO):
    """One stored object per chunk."""

    def __init__(self, metadata: ArrayMetadata, path: str) -> None:
        super().__init__(metadata, path)
        self.pipeline = CodecPipeline.from_metadata(metadata)
        self._order = getattr(metadata, "order", "C")

    def _decode(self, data: Any, key: str) -> np.ndarray:
        try:
            return self.pipeline.decode(data)
        except Exception as exc:
            raise self._error(key, exc) from exc

    async def read(self, store: Store, key: str, proj: ChunkProjection, out: np.ndarray) -> None:
        """Read the chunk at ``key`` into ``out[proj.out_selection]``.

        Concurrent reads of one key share its fetch and decode (see :mod:`.flights`).
        """
        waiter = flights.Waiter(proj, out)
        while True:
            flight, leader = flights.join_or_lead(store, key, waiter)
            if leader:
                await self._lead(store, key, proj, out, flight)
                return
            try:
                outcome = await asyncio.shield(flight.future)
            except asyncio.CancelledError:
                # Not taken yet: the leader will not write into this output after all. (Once
                # taken, it may still be written: the output belongs to a cancelled read.)
                flights.leave(flight, waiter)
                raise
            if not outcome.retry:
                break
            flights.leave(flight, waiter)  # the leader was cancelled: start over
        if outcome.error is not None:
            raise outcome.error
        if waiter.placed:
            return
        if outcome.data is None:
            _region(out, proj.out_selection)[...] = self.fill_value
        else:  # joined after the leader's decode job had started
            await run_cpu(self.chunk_nbytes, self._decode_into, outcome.data, key, proj, out)

    async def _lead(
        self, store: Store, key: str, proj: ChunkProjection, out: np.ndarray, flight: Flight
    ) -> None:
        outcome = flights.Outcome(retry=True)
        try:
            data = await store.get_buffer(key)
            outcome = flights.Outcome(data=data)
            if data is None:
                _region(out, proj.out_selection)[...] = self.fill_value
                return
            waiters = flight.take_waiters()
            if waiters:
                # One job decodes once and places every reader's part: one pool hop per chunk.
                nbytes = self.chunk_nbytes * (1 + len(waiters))
                await run_cpu(nbytes, self._decode_serving, data, key, proj, out, waiters)
            else:
                await run_cpu(self.chunk_nbytes, self._decode_into, data, key, proj, out)
        except asyncio.CancelledError:
            outcome = flights.Outcome(retry=True)
            raise
        except Exception as exc:
            outcome.error = exc
            raise
        finally:
            flights.land(store, key, flight)
            flight.finish(outcome)

    def _decode_serving(
        self,
        data: Any,
        key: str,
        proj: ChunkProjection,
        out: np.ndarray,
        waiters: list[flights.Waiter],
    ) -> None:
        """Decode once (into the leader's output when it holds the whole chunk, else into
        scratch) and copy each waiter's part from there."""
        chunk = self._decode_into(data, key, proj, out)
        for waiter in waiters:
            _place(chunk, waiter.proj, waiter.out)
            waiter.placed = True

    def _whole_chunk(self, proj: ChunkProjection) -> bool:
        return proj.is_complete and self._extent(proj.chunk_coords) == self.grid_chunks

    def _decode_into(
        self, data: Any, key: str, proj: ChunkProjection, out: np.ndarray
    ) -> np.ndarray:
        """Decode into ``out[proj.out_selection]``; the decoded chunk (see
        :func:`~cloudzarr.arrays.scratch.decode_to_region`)."""
        try:
            return decode_to_region(
                self.pipeline,
                data,
                _region(out, proj.out_selection),
                self.grid_chunks,
                proj.chunk_selection,
                self._whole_chunk(proj),
                self._order,
            )
        except Exception as exc:
            raise self._error(key, exc) from exc

    async def write(self, store: Store, key: str, proj: ChunkProjection, value: np.ndarray) -> None:
        """Write ``value[proj.out_selection]`` into the chunk at ``key`` (read first if partial)."""
        existing = None if proj.is_complete else await store.get(key)
        data = await run_cpu(self.chunk_nbytes, self._merge_encode, existing, key, proj, value)
        await self._store_result(store, key, data)

    def _merge_encode(
        self, existing: Any, key: str, proj: ChunkProjection, value: np.ndarray
    ) -> bytes | None:
        part = _region(value, proj.out_selection)
        if self._whole_chunk(proj) and part.shape == self.grid_chunks:
            chunk = in_layout(part, self._order) if part.dtype == self.dtype else part
        else:
            if existing is None:
                chunk = full_chunk(self.grid_chunks, self.dtype, self.fill_value)
            else:
                chunk = np.array(self._decode(existing, key), copy=True)
            # The Ellipsis keeps a 0-d target a view: an object (bytes) array would otherwise
            # store a 0-d array as the element itself.
            chunk[(*proj.chunk_selection, Ellipsis)] = part
        if not self.write_empty_chunks and is_all_fill(chunk, self.fill_value):
            return None
        return self.pipeline.encode(chunk)


class ShardedChunkIO(ChunkIO):
    """One stored object per shard (v3 ``sharding_indexed``)."""

    def __init__(self, metadata: ArrayMetadataV3, path: str) -> None:
        super().__init__(metadata, path)
        spec = metadata.sharding
        assert spec is not None
        if len(metadata.codecs) != 1:
            raise UnsupportedCodecError(
                f"array {self.name!r}: codecs: sharding_indexed must be the only codec, got "
                f"{[c.name for c in metadata.codecs]}"
            )
        try:
            self.codec = ShardingCodec(spec, self.dtype, self.grid_chunks, self.fill_value)
        except MetadataError as exc:  # an inner codec (or a nested shard's) cannot be built
            raise type(exc)(f"array {self.name!r}: {exc}") from exc

    @property
    def read_chunk_shape(self) -> tuple[int, ...]:
        return self.codec.chunk_shape

    @property
    def shard_shape(self) -> tuple[int, ...] | None:
        return self.grid_chunks

    @property
    def filters(self) -> tuple[Any, ...]:
        return tuple(c for c in self.codec.inner_specs if c.kind == "array_array")

    @property
    def compressors(self) -> tuple[Any, ...]:
        return tuple(c for c in self.codec.inner_specs if c.kind == "bytes_bytes")

    @property
    def serializer(self) -> Any:
        return next(c for c in self.codec.inner_specs if c.kind == "array_bytes")

    def _wrap(self, exc: ChunkDecodeError) -> ChunkDecodeError:
        return ChunkDecodeError(f"array {self.name!r}: {exc}")

    async def read(self, store: Store, key: str, proj: ChunkProjection, out: np.ndarray) -> None:
        """Read from the shard at ``key``: whole when the selection needs every inner chunk,
        else the index and the needed inner chunks by byte ranges."""
        target = _region(out, proj.out_selection)
        extent = self._extent(proj.chunk_coords)
        try:
            if proj.is_complete or self.codec.needs_whole_shard(proj.chunk_selection, extent):
                # Every inner chunk is needed: one GET of the shard beats 1 + n range requests
                # (and concurrent readers of the shard share it).
                data = await flights.shared_get(store, key, None)
                if data is None:
                    target[...] = self.fill_value
                    return
                # Inner chunks decode in parallel, each straight into its place in the output.
                await self.codec.decode_part_parallel(
                    data, key, proj.chunk_selection, extent, target
                )
            else:
                await self.codec.read_into(store, key, proj.chunk_selection, extent, target)
        except ChunkDecodeError as exc:
            raise self._wrap(exc) from exc

    async def write(self, store: Store, key: str, proj: ChunkProjection, value: np.ndarray) -> None:
        """Write into the shard at ``key``, re-encoding only the inner chunks touched."""
        part = _region(value, proj.out_selection)
        extent = self._extent(proj.chunk_coords)
        if proj.is_complete and part.shape == self.grid_chunks:
            # A whole shard: inner chunks encoded in parallel from the caller's buffer.
            data = await self.codec.encode_parallel(part)
            await self._store_result(store, key, data)
            return
        existing = None if proj.is_complete else await store.get(key)
        try:
            data = await run_cpu(
                self.chunk_nbytes,
                self.codec.update,
                existing,
                key,
                proj.chunk_selection,
                extent,
                part,
            )
        except ChunkDecodeError as exc:
            raise self._wrap(exc) from exc
        await self._store_result(store, key, data)


def make_chunk_io(metadata: ArrayMetadata, path: str) -> ChunkIO:
    """The chunk I/O of an array: sharded when its codecs say so."""
    if isinstance(metadata, ArrayMetadataV3) and metadata.sharding is not None:
        return ShardedChunkIO(metadata, path)
    return RegularChunkIO(metadata, path)
