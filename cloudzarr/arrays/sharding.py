"""The v3 ``sharding_indexed`` codec: many inner chunks in one stored object, with an index.

A shard of shape ``shard_shape`` holds ``chunks_per_shard = shard_shape // chunk_shape`` inner
chunks, each encoded with the inner ``codecs``, concatenated, plus an index: a uint64 array of
shape ``chunks_per_shard + (2,)`` holding each inner chunk's (offset, length) in the shard, both
``2**64 - 1`` for an inner chunk that is absent (all fill value), encoded with ``index_codecs``
(``bytes`` + ``crc32c`` by default) and placed at the ``end`` (default) or ``start``.

Besides whole-shard :meth:`ShardingCodec.encode` / :meth:`~ShardingCodec.decode`, the arrays
layer uses :meth:`ShardingCodec.read_into`: a partial read that fetches the index with one
byte-range request (a suffix range when it is at the end; stores without suffix ranges
translate that) and then only the inner chunks the selection needs. Needed inner chunks that lie
close together in the shard (gap at most :data:`COALESCE_MAX_GAP`) are fetched by one range
request of at most :data:`COALESCE_MAX_BYTES` and split locally; the requests run concurrently
through the store's limiter. :meth:`update` rewrites a shard after a partial write,
re-encoding only the inner chunks the write touched.

Nested sharding (a ``sharding_indexed`` among a shard's inner codecs, as zarr-python writes
with a ``ShardingCodec`` inside a ``ShardingCodec``) is supported: each inner chunk is then
itself a shard, built by :func:`_inner_pipeline` with the same fill value. When no other inner
codec surrounds the nested shards, a partial read fetches those it needs whole (coalesced like
any inner chunk) and decodes only their chunks it needs; a nested shard larger than
:data:`NESTED_WHOLE_MAX_BYTES` is itself read by ranges (its index, then the chunks needed); a
partial write re-encodes only the nested shard's chunks it touches. With a codec around them
(``transpose`` before, ``crc32c`` after...) nested shards are fetched, decoded and re-encoded
whole.

The codec is not registered with :func:`cloudzarr.codecs.register_array_bytes_codec`: that
registry's factories do not receive the array's fill value, which absent inner chunks read as, so
:class:`~cloudzarr.arrays.chunk_io.ShardedChunkIO` builds it directly (sharding must be the
array's only codec, as zarr-python writes it).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cloudzarr.arrays.cpu import run_cpu
from cloudzarr.arrays.fill import full_chunk, is_all_fill
from cloudzarr.arrays.indexing import BasicIndexer, ChunkProjection
from cloudzarr.codecs.base import ArrayBytesCodec, Buffer
from cloudzarr.codecs.pipeline import CodecPipeline, V3CodecPipeline
from cloudzarr.codecs.v3 import array_array_codec, bytes_bytes_codec
from cloudzarr.errors import ChunkDecodeError, InvalidMetadataError
from cloudzarr.metadata.codec_specs import CodecSpec
from cloudzarr.storage.base import Store
from cloudzarr.storage.byte_range import (
    ByteRequest,
    CoalescedRange,
    RangeByteRequest,
    SuffixByteRequest,
    coalesce_ranges,
)

__all__ = [
    "COALESCE_MAX_BYTES",
    "COALESCE_MAX_GAP",
    "MAX_UINT64",
    "NESTED_WHOLE_MAX_BYTES",
    "ShardingCodec",
]

#: The index entry of an absent inner chunk.
MAX_UINT64 = 2**64 - 1

#: Inner chunks at most this many bytes apart in a shard are fetched by one range request, the
#: bytes between them read and dropped. An object store answers a request after tens to
#: hundreds of milliseconds (S3 and GCS first-byte latency) and then streams at tens of MB/s or
#: more per connection, so 64 KiB extra costs about a millisecond: far less than the request it
#: saves, while a partial read transfers at most 64 KiB of unneeded bytes per needed chunk.
COALESCE_MAX_GAP = 64 * 2**10

#: A merged request spans at most this many bytes (one inner chunk larger than it is still one
#: request). AWS's S3 performance guidelines name 8-16 MB as the typical size of byte-range
#: reads: larger requests lose the parallelism of several concurrent connections, and each one
#: is a buffer held whole in memory until its chunks are decoded.
COALESCE_MAX_BYTES = 16 * 2**20

#: A nested shard (an inner chunk that is itself a shard) of at most this many bytes is fetched
#: whole when a read needs part of it; a larger one is read by ranges: its index, then its
#: inner chunks the read needs. That costs one more round trip (the index must arrive before
#: the chunks are known); 1 MiB takes about as long to transfer as a round trip lasts at the
#: speeds above, so below it the extra request does not pay.
NESTED_WHOLE_MAX_BYTES = 2**20


@dataclass(frozen=True, slots=True)
class _Limits:
    """The coalescing limits of one read (see the module constants)."""

    gap: int
    request: int
    nested_whole: int


_INDEX_DTYPE = np.dtype("uint64")


class ShardingCodec(ArrayBytesCodec):
    """``sharding_indexed`` for one array.

    Parameters
    ----------
    spec
        The validated ``sharding_indexed`` codec spec.
    dtype
        The array's dtype.
    shard_shape
        The array's chunk grid shape (the shard shape).
    fill_value
        The value absent inner chunks read as; all-fill inner chunks are not stored.
    """

    name = "sharding_indexed"

    def __init__(
        self,
        spec: CodecSpec,
        dtype: np.dtype[Any],
        shard_shape: Sequence[int],
        fill_value: Any,
    ) -> None:
        cfg = spec.configuration
        self.dtype = np.dtype(dtype)
        self.shard_shape = tuple(int(n) for n in shard_shape)
        self.chunk_shape = tuple(int(n) for n in cfg["chunk_shape"])
        if len(self.chunk_shape) != len(self.shard_shape) or any(
            s % c for s, c in zip(self.shard_shape, self.chunk_shape, strict=True)
        ):
            raise InvalidMetadataError(
                f"codecs (sharding_indexed): shard shape {list(self.shard_shape)} is not a "
                f"multiple of the inner chunk shape {list(self.chunk_shape)}"
            )
        self.chunks_per_shard = tuple(
            s // c for s, c in zip(self.shard_shape, self.chunk_shape, strict=True)
        )
        self.n_inner = math.prod(self.chunks_per_shard)
        self.fill_value = fill_value
        self.inner_specs: tuple[CodecSpec, ...] = tuple(cfg["codecs"])
        self.inner = _inner_pipeline(self.inner_specs, self.dtype, self.chunk_shape, fill_value)
        #: The nested shard codec when each inner chunk is a shard and nothing else (no codec
        #: before or after it), so a nested shard's bytes can themselves be read by ranges.
        self.nested: ShardingCodec | None = None
        inner = self.inner
        if (
            isinstance(inner, V3CodecPipeline)
            and isinstance(inner.array_bytes, ShardingCodec)
            and not inner.array_array
            and not inner.bytes_chain.codecs
        ):
            self.nested = inner.array_bytes
        self.index_codecs = tuple(cfg["index_codecs"])
        self._index_pipe = CodecPipeline.from_v3(
            self.index_codecs, _INDEX_DTYPE, (*self.chunks_per_shard, 2)
        )
        self.index_at_end = cfg["index_location"] == "end"
        empty = np.full((*self.chunks_per_shard, 2), MAX_UINT64, dtype=_INDEX_DTYPE)
        self._empty_index = empty
        self.index_nbytes = len(memoryview(self._index_pipe.encode(empty)).cast("B"))
        self.inner_nbytes = math.prod(self.chunk_shape) * max(self.dtype.itemsize, 1)

    # --- the index -------------------------------------------------------------------------

    def _decode_index(self, raw: Buffer, key: str) -> np.ndarray:
        size = len(memoryview(raw).cast("B"))
        if size != self.index_nbytes:
            raise ChunkDecodeError(
                f"shard {key!r}: index is {size} bytes, expected {self.index_nbytes} "
                "(truncated or corrupt shard)"
            )
        try:
            index = self._index_pipe.decode(raw)
        except ChunkDecodeError as exc:
            raise ChunkDecodeError(f"shard {key!r}: index: {exc}") from None
        return np.asarray(index, dtype=_INDEX_DTYPE).reshape(self.n_inner, 2)

    def _index_range(self) -> ByteRequest:
        if self.index_at_end:
            return SuffixByteRequest(self.index_nbytes)
        return RangeByteRequest(0, self.index_nbytes)

    def _split(self, data: Buffer, key: str) -> tuple[np.ndarray, memoryview]:
        view = memoryview(data).cast("B")
        if len(view) < self.index_nbytes:
            raise ChunkDecodeError(
                f"shard {key!r}: {len(view)} bytes is shorter than its index "
                f"({self.index_nbytes} bytes)"
            )
        raw = view[-self.index_nbytes :] if self.index_at_end else view[: self.index_nbytes]
        index = self._decode_index(raw, key)
        present = index[:, 0] != MAX_UINT64
        if present.any():
            ends = index[present, 0] + index[present, 1]
            if int(ends.max()) > len(view):
                raise ChunkDecodeError(
                    f"shard {key!r}: index points past the end of the shard (truncated shard)"
                )
        return index, view

    def _assemble(self, encoded: Sequence[Buffer | None]) -> bytes | None:
        if all(e is None for e in encoded):
            return None
        index = self._empty_index.reshape(self.n_inner, 2).copy()
        offset = self.index_nbytes if not self.index_at_end else 0
        pieces: list[Buffer] = []
        for i, piece in enumerate(encoded):
            if piece is None:
                continue
            n = len(memoryview(piece).cast("B"))
            index[i] = (offset, n)
            offset += n
            pieces.append(piece)
        raw_index = self._index_pipe.encode(index.reshape(*self.chunks_per_shard, 2))
        if self.index_at_end:
            pieces.append(raw_index)
        else:
            pieces.insert(0, raw_index)
        return b"".join(pieces)

    # --- inner chunks ----------------------------------------------------------------------

    def _inner_origin(self, flat: int) -> tuple[slice, ...]:
        coords = np.unravel_index(flat, self.chunks_per_shard)
        return tuple(
            slice(int(c) * n, (int(c) + 1) * n)
            for c, n in zip(coords, self.chunk_shape, strict=True)
        )

    def _coords(self, flat: int) -> list[int]:
        return [int(c) for c in np.unravel_index(flat, self.chunks_per_shard)]

    def _decode_inner(self, data: Buffer, key: str, flat: int) -> np.ndarray:
        try:
            return self.inner.decode(data)
        except Exception as exc:  # any codec failure on stored bytes is a decode error
            raise ChunkDecodeError(
                f"shard {key!r}: inner chunk {self._coords(flat)} could not be decoded: {exc}"
            ) from exc

    def _encode_inner(self, chunk: np.ndarray) -> Buffer | None:
        if is_all_fill(chunk, self.fill_value):
            return None
        return self.inner.encode(chunk)

    # --- whole shards (the ArrayBytesCodec interface) --------------------------------------

    def encode(self, chunk: np.ndarray) -> Buffer:
        """Encode a whole shard; an all-fill shard encodes to an index of absent chunks."""
        data = self.encode_shard(chunk)
        return self._index_pipe.encode(self._empty_index) if data is None else data

    def encode_shard(self, shard: np.ndarray) -> bytes | None:
        """Encode a whole shard, or None if every inner chunk is all fill value."""
        encoded = [self._encode_inner(shard[self._inner_origin(i)]) for i in range(self.n_inner)]
        return self._assemble(encoded)

    def decode(self, data: Buffer, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        """Decode a whole shard into a new array of the shard shape."""
        out = full_chunk(self.shard_shape, self.dtype, self.fill_value)
        self.decode_into(data, "<shard>", out)
        return out

    def decode_into(self, data: Buffer, key: str, out: np.ndarray) -> None:
        """Decode a whole shard's bytes into ``out`` (shard shape); absent chunks are filled."""
        index, view = self._split(data, key)
        for i in range(self.n_inner):
            region = self._inner_origin(i)
            off, n = index[i]
            if off == MAX_UINT64:
                out[region] = self.fill_value
            elif self.nested is not None:
                # Straight into place, and errors name the nested shard.
                inner = view[int(off) : int(off + n)]
                self.nested.decode_into(inner, self._nested_label(key, i), out[region])
            else:
                out[region] = self._decode_inner(view[int(off) : int(off + n)], key, i)

    def _nested_label(self, label: str, flat: int) -> str:
        return f"{label}, nested shard {self._coords(flat)}"

    def _decode_part_into(
        self,
        data: Buffer,
        label: str,
        selection: tuple[Any, ...],
        extent: tuple[int, ...],
        target: np.ndarray,
    ) -> None:
        """Decode ``selection`` of a whole shard's bytes into ``target``: only the inner chunks
        it needs (a nested shard fetched whole is decoded this way)."""
        index, view = self._split(data, label)
        for proj in self._sub_indexer(selection, extent):
            flat = int(np.ravel_multi_index(proj.chunk_coords, self.chunks_per_shard))
            off, n = (int(v) for v in index[flat])
            if off == MAX_UINT64:
                target[proj.out_selection] = self.fill_value
            elif self.nested is not None:
                region: tuple[Any, ...] = (*proj.out_selection, Ellipsis)  # a view, even 0-d
                self.nested._decode_part_into(
                    view[off : off + n],
                    self._nested_label(label, flat),
                    proj.chunk_selection,
                    self._sub_extent(proj, extent),
                    target[region],
                )
            else:
                chunk = self._decode_inner(view[off : off + n], label, flat)
                target[proj.out_selection] = chunk[proj.chunk_selection]

    # --- partial reads and writes ----------------------------------------------------------

    def _sub_indexer(self, selection: tuple[Any, ...], extent: tuple[int, ...]) -> BasicIndexer:
        # ``extent``: the part of the shard inside the array, so edge inner chunks count as
        # complete when a write covers what exists of them.
        return BasicIndexer(selection, extent, self.chunk_shape)

    def needs_whole_shard(
        self,
        selection: tuple[Any, ...],
        extent: tuple[int, ...],
        max_nested_whole: int | None = None,
    ) -> bool:
        """Whether reading ``selection`` is best done by fetching the whole shard.

        True when it needs every inner chunk inside ``extent`` and, if those are nested shards
        whose decoded size exceeds ``max_nested_whole`` (default
        :data:`NESTED_WHOLE_MAX_BYTES`: such nested shards are otherwise read by ranges), every
        chunk of each of them too.
        """
        limit = NESTED_WHOLE_MAX_BYTES if max_nested_whole is None else max_nested_whole
        indexer = self._sub_indexer(selection, extent)
        inside = math.prod(-(-e // c) for e, c in zip(extent, self.chunk_shape, strict=True))
        if indexer.nchunks != inside:
            return False
        nested = self.nested
        if nested is None or self.inner_nbytes <= limit:
            return True
        return all(
            proj.is_complete
            or nested.needs_whole_shard(proj.chunk_selection, self._sub_extent(proj, extent), limit)
            for proj in indexer
        )

    def _sub_extent(self, proj: ChunkProjection, extent: tuple[int, ...]) -> tuple[int, ...]:
        # The part of inner chunk ``proj`` inside the array.
        return tuple(
            min(c, e - k * c)
            for k, c, e in zip(proj.chunk_coords, self.chunk_shape, extent, strict=True)
        )

    async def read_into(
        self,
        store: Store,
        key: str,
        selection: tuple[Any, ...],
        extent: tuple[int, ...],
        target: np.ndarray,
        *,
        max_gap: int | None = None,
        max_request: int | None = None,
        max_nested_whole: int | None = None,
    ) -> None:
        """Read ``selection`` of the shard at ``key`` into ``target`` with byte-range requests.

        One request for the index, then the stored inner chunks the selection touches, those
        at most ``max_gap`` bytes apart in the shard fetched together in one range request of
        at most ``max_request`` bytes and split locally. The requests run concurrently through
        the store's limiter and each inner chunk is decoded as soon as its request returns. A
        missing shard fills ``target``.

        Nested shards (inner chunks that are themselves shards, with no other inner codec) of
        at most ``max_nested_whole`` bytes are fetched whole like any inner chunk; a larger one
        is read the same way as this shard: its index by one range, then its inner chunks the
        selection needs, unless the selection needs all of them.

        Parameters
        ----------
        store, key
            Where the shard is.
        selection
            The part of the shard to read (a basic selection, shard coordinates).
        extent
            The part of the shard inside the array.
        target
            Receives the selected values (shape of the selection).
        max_gap, max_request, max_nested_whole
            Override :data:`COALESCE_MAX_GAP`, :data:`COALESCE_MAX_BYTES` and
            :data:`NESTED_WHOLE_MAX_BYTES` for this call; ``max_gap=-1`` fetches every inner
            chunk with its own request.
        """
        limits = _Limits(
            COALESCE_MAX_GAP if max_gap is None else max_gap,
            COALESCE_MAX_BYTES if max_request is None else max_request,
            NESTED_WHOLE_MAX_BYTES if max_nested_whole is None else max_nested_whole,
        )
        raw = await store.get(key, self._index_range())
        if raw is None:
            target[...] = self.fill_value
            return
        index = self._decode_index(raw, key)
        await self._read_chunks(store, key, key, 0, index, selection, extent, target, limits)

    async def _read_nested(
        self,
        store: Store,
        key: str,
        label: str,
        base: int,
        length: int,
        selection: tuple[Any, ...],
        extent: tuple[int, ...],
        target: np.ndarray,
        limits: _Limits,
    ) -> None:
        """:meth:`read_into` for this (nested) shard stored at ``[base, base + length)``."""
        if length < self.index_nbytes:
            raise ChunkDecodeError(
                f"shard {label!r}: {length} bytes is shorter than its index "
                f"({self.index_nbytes} bytes)"
            )
        lo = base + length - self.index_nbytes if self.index_at_end else base
        raw = await store.get(key, RangeByteRequest(lo, lo + self.index_nbytes))
        if raw is None:
            # The shard vanished between the outer index read and this one: read as fill.
            target[...] = self.fill_value
            return
        index = self._decode_index(raw, label)
        present = index[:, 0] != MAX_UINT64
        if present.any() and int((index[present, 0] + index[present, 1]).max()) > length:
            raise ChunkDecodeError(f"shard {label!r}: index points past the end of the shard")
        await self._read_chunks(store, key, label, base, index, selection, extent, target, limits)

    async def _read_chunks(
        self,
        store: Store,
        key: str,
        label: str,
        base: int,
        index: np.ndarray,
        selection: tuple[Any, ...],
        extent: tuple[int, ...],
        target: np.ndarray,
        limits: _Limits,
    ) -> None:
        """Fetch and decode the inner chunks ``selection`` needs, given this shard's index."""
        wanted: list[tuple[int, ChunkProjection]] = []
        jobs: list[Coroutine[Any, Any, None]] = []
        for proj in self._sub_indexer(selection, extent):
            flat = int(np.ravel_multi_index(proj.chunk_coords, self.chunks_per_shard))
            off, n = (int(v) for v in index[flat])
            if off == MAX_UINT64:
                target[proj.out_selection] = self.fill_value
                continue
            sub = self._read_deep(proj, n, extent, limits)
            if sub is None:
                wanted.append((flat, proj))
                continue
            nested, sub_extent = sub
            region: tuple[Any, ...] = (*proj.out_selection, Ellipsis)  # a view, even 0-d
            jobs.append(
                nested._read_nested(
                    store,
                    key,
                    self._nested_label(label, flat),
                    base + off,
                    n,
                    proj.chunk_selection,
                    sub_extent,
                    target[region],
                    limits,
                )
            )
        spans = [
            (base + int(index[flat, 0]), base + int(index[flat, 0]) + int(index[flat, 1]))
            for flat, _ in wanted
        ]

        async def fetch(request: CoalescedRange) -> None:
            blob = await store.get(key, RangeByteRequest(request.start, request.end))
            if blob is None:
                # The shard vanished between the index read and this one: read as fill.
                for i in request.members:
                    target[wanted[i][1].out_selection] = self.fill_value
                return
            view = memoryview(blob).cast("B")
            for i in request.members:
                if spans[i][1] - request.start > len(view):
                    raise ChunkDecodeError(
                        f"shard {label!r}: inner chunk {self._coords(wanted[i][0])} lies past "
                        "the end of the shard (truncated shard)"
                    )
            # The chunks of one request decode in parallel (large ones in the codec pool).
            await asyncio.gather(*(place(view, request.start, i) for i in request.members))

        async def place(view: memoryview, start: int, i: int) -> None:
            flat, proj = wanted[i]
            lo, hi = spans[i][0] - start, spans[i][1] - start
            nested = self.nested
            if nested is not None:
                # A nested shard fetched whole: decode just the chunks of it the read needs.
                region: tuple[Any, ...] = (*proj.out_selection, Ellipsis)
                await run_cpu(
                    self.inner_nbytes,
                    nested._decode_part_into,
                    view[lo:hi],
                    self._nested_label(label, flat),
                    proj.chunk_selection,
                    self._sub_extent(proj, extent),
                    target[region],
                )
                return
            chunk = await run_cpu(self.inner_nbytes, self._decode_inner, view[lo:hi], label, flat)
            target[proj.out_selection] = chunk[proj.chunk_selection]

        requests = coalesce_ranges(spans, max_gap=limits.gap, max_size=limits.request)
        jobs.extend(fetch(r) for r in requests)
        await asyncio.gather(*jobs)

    def _read_deep(
        self, proj: ChunkProjection, nbytes: int, extent: tuple[int, ...], limits: _Limits
    ) -> tuple[ShardingCodec, tuple[int, ...]] | None:
        """The nested codec and extent if this inner chunk is better read by its own ranges."""
        nested = self.nested
        if nested is None or nbytes <= limits.nested_whole:
            return None
        sub_extent = self._sub_extent(proj, extent)
        if nested.needs_whole_shard(proj.chunk_selection, sub_extent, limits.nested_whole):
            return None  # it would fetch every chunk anyway: one range for all of it
        return nested, sub_extent

    def update(
        self,
        existing: Buffer | None,
        key: str,
        selection: tuple[Any, ...],
        extent: tuple[int, ...],
        value: np.ndarray,
    ) -> bytes | None:
        """Apply a partial write to a shard's bytes; None if the shard ends up all fill.

        Inner chunks the write does not touch keep their encoded bytes unchanged, and so do
        those of a nested shard (with no other inner codec) the write covers only in part.
        """
        encoded: list[Buffer | None] = [None] * self.n_inner
        if existing is not None:
            index, view = self._split(existing, key)
            for i in range(self.n_inner):
                off, n = index[i]
                if off != MAX_UINT64:
                    encoded[i] = view[int(off) : int(off + n)]
        for proj in self._sub_indexer(selection, extent):
            flat = int(np.ravel_multi_index(proj.chunk_coords, self.chunks_per_shard))
            region: tuple[Any, ...] = (*proj.out_selection, Ellipsis)
            part = value[region]
            old = encoded[flat]
            whole = proj.is_complete and part.shape == self.chunk_shape
            if self.nested is not None and not whole:
                sub_extent = self._sub_extent(proj, extent)
                encoded[flat] = self.nested.update(
                    old, self._nested_label(key, flat), proj.chunk_selection, sub_extent, part
                )
                continue
            if whole:
                chunk = part  # a whole inner chunk: encoded straight from the value
            else:
                if proj.is_complete or old is None:
                    chunk = full_chunk(self.chunk_shape, self.dtype, self.fill_value)
                else:
                    chunk = np.array(self._decode_inner(old, key, flat), copy=True)
                # The Ellipsis keeps a 0-d target a view: an object (bytes) array would otherwise
                # store a 0-d array as the element itself.
                chunk[(*proj.chunk_selection, Ellipsis)] = part
            encoded[flat] = self._encode_inner(chunk)
        return self._assemble(encoded)


def _inner_pipeline(
    specs: tuple[CodecSpec, ...],
    dtype: np.dtype[Any],
    chunk_shape: tuple[int, ...],
    fill_value: Any,
) -> CodecPipeline:
    """The inner chunks' codec pipeline; an inner ``sharding_indexed`` makes each a shard.

    A nested shard is an inner chunk whose array->bytes codec is itself a
    :class:`ShardingCodec` (over the shape the array->array codecs before it produce), so it is
    built here, where the fill value its absent chunks read as is known, and not through the
    codec registry.
    """
    if not any(spec.name == "sharding_indexed" for spec in specs):
        return CodecPipeline.from_v3(specs, dtype, chunk_shape)
    array_array = [array_array_codec(s) for s in specs if s.kind == "array_array"]
    layer_dtype, layer_shape = dtype, chunk_shape
    for codec in array_array:
        layer_dtype, layer_shape = codec.resolve(layer_dtype, layer_shape)
    serialiser = next(s for s in specs if s.kind == "array_bytes")
    nested = ShardingCodec(serialiser, layer_dtype, layer_shape, fill_value)
    bytes_bytes = [bytes_bytes_codec(s) for s in specs if s.kind == "bytes_bytes"]
    return V3CodecPipeline(array_array, nested, bytes_bytes, dtype, chunk_shape)
