"""The partial-read planner of ``sharding_indexed``: fetch only what a selection needs.

:meth:`PartialReadMixin.read_into` fetches a shard's index with one byte-range request (a suffix
range when it is at the end; stores without suffix ranges translate that) and then only the inner
chunks the selection needs. Needed inner chunks that lie close together in the shard (gap at most
:data:`COALESCE_MAX_GAP`) are fetched by one range request of at most :data:`COALESCE_MAX_BYTES`
and split locally, as zarr-python 3.3 (``coalesce_max_gap_bytes``) and obstore
(``get_ranges``, 1 MiB) do; the requests run concurrently through the store's limiter and each
inner chunk is decoded, in the codec pool when large, as soon as its request returns.

Nested shards (an inner chunk that is itself a shard, with no other inner codec) of at most
:data:`NESTED_WHOLE_MAX_BYTES` are fetched whole like any inner chunk; a larger one is read the
same way as its parent: its index by one range, then the chunks of it the read needs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cloudzarr.arrays import flights
from cloudzarr.arrays.cpu import run_cpu
from cloudzarr.arrays.indexing import BasicIndexer, ChunkProjection
from cloudzarr.arrays.sharding.index import MAX_UINT64, ShardIndexMixin
from cloudzarr.codecs.base import Buffer
from cloudzarr.errors import ChunkDecodeError
from cloudzarr.storage.base import Store
from cloudzarr.storage.byte_range import CoalescedRange, RangeByteRequest, coalesce_ranges

if TYPE_CHECKING:
    from cloudzarr.arrays.sharding.codec import ShardingCodec

__all__ = [
    "COALESCE_MAX_BYTES",
    "COALESCE_MAX_GAP",
    "NESTED_WHOLE_MAX_BYTES",
    "PartialReadMixin",
]

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


class PartialReadMixin(ShardIndexMixin):
    """Partial reads of a shard by byte ranges (mixed into the sharding codec)."""

    chunk_shape: tuple[int, ...]
    nested: ShardingCodec | None
    inner_nbytes: int
    fill_value: Any

    if TYPE_CHECKING:

        def _coords(self, flat: int) -> list[int]: ...

        def _decode_inner(self, data: Buffer, key: str, flat: int) -> np.ndarray: ...

        def _decode_inner_to(
            self, raw: Buffer, label: str, flat: int, proj: ChunkProjection, target: np.ndarray
        ) -> None: ...

        def _nested_label(self, label: str, flat: int) -> str: ...

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

    def _decode_members(
        self,
        members: list[tuple[Buffer, int, ChunkProjection]],
        label: str,
        target: np.ndarray,
    ) -> None:
        for raw, flat, proj in members:
            self._decode_inner_to(raw, label, flat, proj, target)

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
        raw = await flights.shared_get(store, key, self._index_range())
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
        raw = await flights.shared_get(store, key, RangeByteRequest(lo, lo + self.index_nbytes))
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
            blob = await flights.shared_get(
                store, key, RangeByteRequest(request.start, request.end)
            )
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
            if self.nested is None:
                # One job decodes the request's chunks, each straight into its place.
                members = [
                    (view[spans[i][0] - request.start : spans[i][1] - request.start], *wanted[i])
                    for i in request.members
                ]
                await run_cpu(
                    self.inner_nbytes * len(members), self._decode_members, members, label, target
                )
                return
            await asyncio.gather(*(nested_place(view, request.start, i) for i in request.members))

        async def nested_place(view: memoryview, start: int, i: int) -> None:
            # A nested shard fetched whole: decode just the chunks of it the read needs.
            flat, proj = wanted[i]
            nested = self.nested
            assert nested is not None
            region: tuple[Any, ...] = (*proj.out_selection, Ellipsis)
            await run_cpu(
                self.inner_nbytes,
                nested._decode_part_into,
                view[spans[i][0] - start : spans[i][1] - start],
                self._nested_label(label, flat),
                proj.chunk_selection,
                self._sub_extent(proj, extent),
                target[region],
            )

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
