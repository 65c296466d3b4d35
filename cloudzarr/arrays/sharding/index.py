"""The index of a ``sharding_indexed`` shard: where each inner chunk lies in the shard.

A uint64 array of shape ``chunks_per_shard + (2,)`` holding each inner chunk's (offset, length)
in the shard, both :data:`MAX_UINT64` for an absent inner chunk (all fill value), encoded with
the codec's ``index_codecs`` (``bytes`` + ``crc32c`` by default: 16 bytes per inner chunk + 4)
and placed at the ``end`` (default) or the ``start`` of the shard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cloudzarr.codecs.base import Buffer
from cloudzarr.errors import ChunkDecodeError
from cloudzarr.storage.byte_range import ByteRequest, RangeByteRequest, SuffixByteRequest

if TYPE_CHECKING:
    from cloudzarr.codecs.pipeline import CodecPipeline

__all__ = ["INDEX_DTYPE", "MAX_UINT64", "ShardIndexMixin"]

#: The index entry of an absent inner chunk.
MAX_UINT64 = 2**64 - 1

#: The index's element type.
INDEX_DTYPE = np.dtype("uint64")


class ShardIndexMixin:
    """Reading, checking and writing a shard's index (mixed into the sharding codec)."""

    chunks_per_shard: tuple[int, ...]
    n_inner: int
    index_nbytes: int
    index_at_end: bool
    _index_pipe: CodecPipeline
    _empty_index: np.ndarray

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
        return np.asarray(index, dtype=INDEX_DTYPE).reshape(self.n_inner, 2)

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
