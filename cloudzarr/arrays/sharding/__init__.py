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
itself a shard, built through the codec registry with the same fill value. When no other inner
codec surrounds the nested shards, a partial read fetches those it needs whole (coalesced like
any inner chunk) and decodes only their chunks it needs; a nested shard larger than
:data:`NESTED_WHOLE_MAX_BYTES` is itself read by ranges (its index, then the chunks needed); a
partial write re-encodes only the nested shard's chunks it touches. With a codec around them
(``transpose`` before, ``crc32c`` after...) nested shards are fetched, decoded and re-encoded
whole.

Modules: :mod:`.codec` (the codec: whole shards, parallel decode and encode, partial writes),
:mod:`.index` (the shard index), :mod:`.reads` (the partial-read planner and its coalescing
limits).

The codec is registered with :func:`cloudzarr.codecs.v3.register_array_bytes_codec` (whose
factories receive the fill value absent inner chunks read as), so any v3 pipeline builds it,
nested shards included; :class:`~cloudzarr.arrays.chunk_io.ShardedChunkIO` uses it directly for
its partial reads and writes (sharding must be the array's only codec, as zarr-python writes).
"""

from typing import Any

import numpy as np

from cloudzarr.arrays.sharding.codec import ShardingCodec
from cloudzarr.arrays.sharding.index import MAX_UINT64
from cloudzarr.arrays.sharding.reads import (
    COALESCE_MAX_BYTES,
    COALESCE_MAX_GAP,
    NESTED_WHOLE_MAX_BYTES,
)
from cloudzarr.codecs.v3 import register_array_bytes_codec
from cloudzarr.errors import UnsupportedCodecError
from cloudzarr.metadata.codec_specs import CodecSpec

__all__ = [
    "COALESCE_MAX_BYTES",
    "COALESCE_MAX_GAP",
    "MAX_UINT64",
    "NESTED_WHOLE_MAX_BYTES",
    "ShardingCodec",
]


def _factory(
    spec: CodecSpec, dtype: np.dtype[Any], shape: tuple[int, ...] | None, fill_value: Any
) -> ShardingCodec:
    if shape is None:
        raise UnsupportedCodecError("codec 'sharding_indexed' needs the shard shape")
    return ShardingCodec(spec, dtype, shape, fill_value)


register_array_bytes_codec("sharding_indexed", _factory)
