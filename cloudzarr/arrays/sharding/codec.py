"""The ``sharding_indexed`` codec: whole shards, parallel in-place decode and encode, and
partial writes that re-encode only the inner chunks they touch (see the package docstring)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cloudzarr.arrays.cpu import codec_threads, run_cpu
from cloudzarr.arrays.fill import full_chunk, is_all_fill
from cloudzarr.arrays.indexing import ChunkProjection
from cloudzarr.arrays.scratch import decode_to_region, in_layout
from cloudzarr.arrays.sharding.index import INDEX_DTYPE, MAX_UINT64
from cloudzarr.arrays.sharding.reads import PartialReadMixin
from cloudzarr.codecs.base import ArrayBytesCodec, Buffer
from cloudzarr.codecs.pipeline import CodecPipeline, V3CodecPipeline
from cloudzarr.concurrency import gather
from cloudzarr.config import config
from cloudzarr.errors import ChunkDecodeError, InvalidMetadataError
from cloudzarr.metadata.codec_specs import CodecSpec

__all__ = ["ShardingCodec"]


class ShardingCodec(PartialReadMixin, ArrayBytesCodec):
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
        limit: int = config.get("codec.max_shard_chunks")
        if self.n_inner > limit:
            # The index alone would take 16 bytes per inner chunk (2^26 chunks: 1 GiB), and be
            # allocated and read before any data: refuse the document instead.
            raise InvalidMetadataError(
                f"codecs (sharding_indexed): chunk_shape {list(self.chunk_shape)} makes "
                f"{self.n_inner} inner chunks per shard of {list(self.shard_shape)}, more than "
                f"the {limit} allowed (config 'codec.max_shard_chunks'); its index would take "
                f"{16 * self.n_inner} bytes"
            )
        self.fill_value = fill_value
        self.inner_specs: tuple[CodecSpec, ...] = tuple(cfg["codecs"])
        # A nested sharding_indexed comes from the codec registry, given the same fill value.
        self.inner = CodecPipeline.from_v3(
            self.inner_specs, self.dtype, self.chunk_shape, fill_value
        )
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
            self.index_codecs, INDEX_DTYPE, (*self.chunks_per_shard, 2)
        )
        self.index_at_end = cfg["index_location"] == "end"
        empty = np.full((*self.chunks_per_shard, 2), MAX_UINT64, dtype=INDEX_DTYPE)
        self._empty_index = empty
        self.index_nbytes = len(memoryview(self._index_pipe.encode(empty)).cast("B"))
        self.inner_nbytes = math.prod(self.chunk_shape) * max(self.dtype.itemsize, 1)

    # --- inner chunks ----------------------------------------------------------------------

    def _inner_origin(self, flat: int) -> tuple[slice, ...]:
        coords = np.unravel_index(flat, self.chunks_per_shard)
        return tuple(
            slice(int(c) * n, (int(c) + 1) * n)
            for c, n in zip(coords, self.chunk_shape, strict=True)
        )

    def _inner_view(self, flat: int) -> tuple[Any, ...]:
        # The trailing Ellipsis keeps a 0-d region a view (a string shard's would be a str).
        return (*self._inner_origin(flat), Ellipsis)

    def _coords(self, flat: int) -> list[int]:
        return [int(c) for c in np.unravel_index(flat, self.chunks_per_shard)]

    def _decode_inner(self, data: Buffer, key: str, flat: int) -> np.ndarray:
        try:
            return self.inner.decode(data)
        except Exception as exc:  # any codec failure on stored bytes is a decode error
            raise ChunkDecodeError(
                f"shard {key!r}: inner chunk {self._coords(flat)} could not be decoded: {exc}"
            ) from exc

    def _decode_inner_to(
        self, raw: Buffer, label: str, flat: int, proj: ChunkProjection, target: np.ndarray
    ) -> None:
        """Decode inner chunk ``flat`` into its place in ``target`` (in place when whole)."""
        place: tuple[Any, ...] = (*proj.out_selection, Ellipsis)  # a view, even 0-d
        region = target[place]
        try:
            decode_to_region(
                self.inner, raw, region, self.chunk_shape, proj.chunk_selection, proj.is_complete
            )
        except Exception as exc:  # any codec failure on stored bytes is a decode error
            raise ChunkDecodeError(
                f"shard {label!r}: inner chunk {self._coords(flat)} could not be decoded: {exc}"
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
        encoded = [self._encode_inner(shard[self._inner_view(i)]) for i in range(self.n_inner)]
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
                self._decode_inner_to(view[off : off + n], label, flat, proj, target)

    # --- parallel whole-shard decode and encode -------------------------------------------

    async def decode_part_parallel(
        self,
        data: Buffer,
        label: str,
        selection: tuple[Any, ...],
        extent: tuple[int, ...],
        target: np.ndarray,
    ) -> None:
        """:meth:`_decode_part_into`, its inner chunks spread over the codec pool.

        Each inner chunk the selection covers whole is decoded straight into its place in
        ``target`` (no shard-sized intermediate, no copy when that place is contiguous); the
        others are decoded and their selected part copied. Batches of about equal size run as
        one pool job each, so a 64-chunk shard costs a few pool round trips, not 64.
        """
        if self.nested is not None:
            await run_cpu(
                self.inner_nbytes * self.n_inner,
                self._decode_part_into,
                data,
                label,
                selection,
                extent,
                target,
            )
            return
        index, view = self._split(data, label)
        projections = list(self._sub_indexer(selection, extent))
        batches = _batches(projections, codec_threads())
        await gather(
            *(
                run_cpu(
                    self.inner_nbytes * len(batch),
                    self._decode_batch,
                    view,
                    index,
                    label,
                    batch,
                    target,
                )
                for batch in batches
            )
        )

    def _decode_batch(
        self,
        view: memoryview,
        index: np.ndarray,
        label: str,
        batch: Sequence[ChunkProjection],
        target: np.ndarray,
    ) -> None:
        for proj in batch:
            flat = int(np.ravel_multi_index(proj.chunk_coords, self.chunks_per_shard))
            off, n = (int(v) for v in index[flat])
            if off == MAX_UINT64:
                place: tuple[Any, ...] = (*proj.out_selection, Ellipsis)  # a view, even 0-d
                target[place] = self.fill_value
                continue
            self._decode_inner_to(view[off : off + n], label, flat, proj, target)

    async def encode_parallel(self, shard: np.ndarray) -> bytes | None:
        """:meth:`encode_shard` with the inner chunks encoded in parallel in the codec pool,
        each straight from its region of ``shard`` (the caller's buffer)."""
        batches = _batches(list(range(self.n_inner)), codec_threads())
        parts = await gather(
            *(
                run_cpu(self.inner_nbytes * len(batch), self._encode_batch, shard, batch)
                for batch in batches
            )
        )
        return self._assemble([piece for part in parts for piece in part])

    def _encode_batch(self, shard: np.ndarray, batch: Sequence[int]) -> list[Buffer | None]:
        # Each strided inner region is copied into one reused buffer, not a fresh array.
        return [self._encode_inner(in_layout(shard[self._inner_view(i)])) for i in batch]

    # --- partial writes ----------------------------------------------------------------

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


def _batches[T](items: Sequence[T], workers: int) -> list[Sequence[T]]:
    """``items`` cut into at most ``workers`` runs of about equal length (in order)."""
    count = max(1, min(workers, len(items)))
    size = -(-len(items) // count)
    return [items[i : i + size] for i in range(0, len(items), size)]
