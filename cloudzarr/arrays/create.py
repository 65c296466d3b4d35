"""Building an array's metadata from user arguments (``create_array``'s keyword arguments)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from cloudzarr.codecs.normalize import (
    normalize_v2_compressor,
    normalize_v2_filters,
    normalize_v3_codecs,
)
from cloudzarr.errors import InvalidMetadataError, UnsupportedFormatError
from cloudzarr.metadata.array_v2 import ArrayMetadataV2
from cloudzarr.metadata.array_v3 import ArrayMetadataV3, ChunkKeyEncoding
from cloudzarr.metadata.codec_specs import CodecSpec
from cloudzarr.metadata.dtypes import is_string_dtype, normalize_dtype
from cloudzarr.metadata.fill_value import default_fill_value

__all__ = ["DEFAULT_INDEX_CODECS", "build_array_metadata", "guess_chunks"]

#: Index codecs of new sharded arrays, as zarr-python writes them.
DEFAULT_INDEX_CODECS: tuple[CodecSpec, ...] = (
    CodecSpec("bytes", {"endian": "little"}),
    CodecSpec("crc32c"),
)

# Auto chunking targets chunks of 256 KiB for a 1 MiB array, twice that per tenfold growth,
# clipped to [128 KiB, 64 MiB]: big enough to amortise a request, small enough to read a part.
_TARGET_BASE = 256 * 2**10
_TARGET_MIN = 128 * 2**10
_TARGET_MAX = 64 * 2**20


def guess_chunks(shape: Sequence[int], itemsize: int) -> tuple[int, ...]:
    """A chunk shape for an array of ``shape``: halve the longest side until small enough.

    Parameters
    ----------
    shape
        The array's shape.
    itemsize
        Bytes per element (8 for variable-length strings).
    """
    if not shape:
        return ()
    chunks = [max(int(n), 1) for n in shape]
    total = math.prod(chunks) * itemsize
    target = _TARGET_BASE * 2 ** math.log10(max(total, 1) / 2**20)
    target = min(max(target, _TARGET_MIN), _TARGET_MAX)
    while math.prod(chunks) * itemsize > target and max(chunks) > 1:
        i = chunks.index(max(chunks))
        chunks[i] = -(-chunks[i] // 2)
    return tuple(chunks)


def _shape_tuple(value: Any, field: str, *, positive: bool) -> tuple[int, ...]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, Iterable) or isinstance(value, str | bytes | Mapping):
        raise InvalidMetadataError(f"{field}: must be an integer or a sequence of integers")
    items = list(value)
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items):
        raise InvalidMetadataError(f"{field}: must be integers, got {items!r}")
    out = tuple(int(v) for v in items)
    if any(v < (1 if positive else 0) for v in out):
        kind = "positive" if positive else "non-negative"
        raise InvalidMetadataError(f"{field}: must be {kind} integers, got {list(out)}")
    return out


def _chunk_shape(chunks: Any, shape: tuple[int, ...], itemsize: int, field: str) -> tuple[int, ...]:
    if chunks is None or (isinstance(chunks, str) and chunks == "auto"):
        return guess_chunks(shape, itemsize)
    if chunks is True:
        return guess_chunks(shape, itemsize)
    out = _shape_tuple(chunks, field, positive=False)
    if len(out) != len(shape):
        raise InvalidMetadataError(
            f"{field}: {list(out)} has {len(out)} dimensions, shape {list(shape)} has {len(shape)}"
        )
    # -1 or 0 would be rejected above; zarr-python's "-1 = whole dimension" is spelled with
    # the dimension's length instead.
    if any(c < 1 for c in out):
        raise InvalidMetadataError(f"{field}: must be positive integers, got {list(out)}")
    return out


def _key_encoding(value: Any, zarr_format: int) -> ChunkKeyEncoding:
    if value is None:
        return ChunkKeyEncoding("default", "/") if zarr_format == 3 else ChunkKeyEncoding("v2", ".")
    if isinstance(value, ChunkKeyEncoding):
        return value
    if isinstance(value, str) and value in ("/", "."):
        return ChunkKeyEncoding("default" if zarr_format == 3 else "v2", value)  # type: ignore[arg-type]
    return ChunkKeyEncoding.from_dict(value, key="chunk_key_encoding")


def build_array_metadata(
    *,
    shape: int | Sequence[int],
    dtype: Any,
    chunks: Any = None,
    shards: Any = None,
    compressors: Any = "auto",
    filters: Any = "auto",
    serializer: Any = "auto",
    fill_value: Any = None,
    order: Literal["C", "F"] | None = "C",
    attributes: Mapping[str, Any] | None = None,
    dimension_names: Sequence[str | None] | None = None,
    zarr_format: int = 3,
    chunk_key_encoding: Any = None,
) -> ArrayMetadataV2 | ArrayMetadataV3:
    """Validate ``create_array``'s arguments and build the array's metadata.

    Parameters
    ----------
    shape
        The array's shape.
    dtype
        A numpy dtype or its spelling, a v3 data type name, or ``str`` for strings.
    chunks
        The chunk shape (the inner chunk shape when sharded); None guesses one.
    shards
        The shard shape (v3 only), a multiple of ``chunks``; None for no sharding.
    compressors, filters, serializer
        As accepted by :mod:`cloudzarr.codecs.normalize` (numcodecs instances, v3 JSON dicts,
        None, ``"auto"``).
    fill_value
        The value of elements never written; None for the dtype's default (0, False, "").
    order
        Memory order of chunks: kept in v2 metadata; v3 stores C order always.
    attributes
        User attributes.
    dimension_names
        One name (or None) per dimension (v3 only).
    zarr_format
        2 or 3.
    chunk_key_encoding
        ``{"name": "default"|"v2", "configuration": {"separator": "/"|"."}}``, a
        :class:`ChunkKeyEncoding`, or just the separator. v2 arrays take only the separator.

    Raises
    ------
    InvalidMetadataError
        A shape, chunk or shard shape is malformed, shards are not a multiple of chunks, or a
        format-2 array is given shards or dimension names (the message names the argument).
    UnsupportedDataTypeError, UnsupportedCodecError
        Unknown dtype or codec.
    """
    if zarr_format not in (2, 3):
        raise UnsupportedFormatError(f"zarr_format: must be 2 or 3, got {zarr_format!r}")
    shape_t = _shape_tuple(shape, "shape", positive=False)
    np_dtype = normalize_dtype(dtype)
    itemsize = 8 if is_string_dtype(np_dtype) else np_dtype.itemsize
    if fill_value is None:
        fill_value = default_fill_value(np_dtype)
    attrs = dict(attributes or {})
    if zarr_format == 2:
        if shards is not None:
            raise InvalidMetadataError("shards: Zarr format 2 arrays cannot be sharded")
        if dimension_names is not None:
            raise InvalidMetadataError("dimension_names: Zarr format 2 arrays have none")
        encoding = _key_encoding(chunk_key_encoding, 2)
        if encoding.name != "v2":
            raise InvalidMetadataError(
                "chunk_key_encoding: Zarr format 2 arrays use the 'v2' encoding"
            )
        return ArrayMetadataV2(
            shape=shape_t,
            dtype=np_dtype,
            chunks=_chunk_shape(chunks, shape_t, itemsize, "chunks"),
            fill_value=fill_value,
            order=order or "C",
            compressor=normalize_v2_compressor(compressors, np_dtype),
            filters=normalize_v2_filters(filters, np_dtype),
            dimension_separator=encoding.separator,
            attributes=attrs,
        )
    codecs = normalize_v3_codecs(
        filters=filters,
        serializer=serializer,
        compressors=compressors,
        dtype=np_dtype,
        ndim=len(shape_t),
    )
    if shards is None:
        grid = _chunk_shape(chunks, shape_t, itemsize, "chunks")
    else:
        grid = _chunk_shape(shards, shape_t, itemsize, "shards")
        inner = (
            guess_chunks(grid, itemsize)
            if chunks is None
            else _chunk_shape(chunks, shape_t, itemsize, "chunks")
        )
        if any(s % c for s, c in zip(grid, inner, strict=True)):
            raise InvalidMetadataError(
                f"shards: shard shape {list(grid)} must be a multiple of the chunk shape "
                f"{list(inner)}"
            )
        codecs = (
            CodecSpec(
                "sharding_indexed",
                {
                    "chunk_shape": inner,
                    "codecs": codecs,
                    "index_codecs": DEFAULT_INDEX_CODECS,
                    "index_location": "end",
                },
            ),
        )
    return ArrayMetadataV3(
        shape=shape_t,
        dtype=np_dtype,
        chunks=grid,
        fill_value=fill_value,
        codecs=codecs,
        chunk_key_encoding=_key_encoding(chunk_key_encoding, 3),
        attributes=attrs,
        dimension_names=None if dimension_names is None else tuple(dimension_names),
    )
