"""Executable Zarr v3 codecs, built from validated :class:`~cloudzarr.metadata.CodecSpec`.

Compressors delegate to numcodecs, like zarr-python 3.4.2 does, so chunks are byte-identical
between the two libraries. :func:`register_array_bytes_codec` lets the arrays layer plug in
``sharding_indexed`` (which needs the inner-chunk pipeline and partial reads) without this
package knowing about shards.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import crc32c as _crc32c
import numcodecs
import numpy as np
from numcodecs.abc import Codec as Numcodec

from cloudzarr.codecs.base import (
    ArrayArrayCodec,
    ArrayBytesCodec,
    Buffer,
    BytesBytesCodec,
    as_uint8,
)
from cloudzarr.codecs.direct import CheckedNumcodec
from cloudzarr.errors import ChunkDecodeError, UnsupportedCodecError
from cloudzarr.metadata.codec_specs import CodecSpec
from cloudzarr.metadata.dtypes import STRING_DTYPE, has_byte_order
from cloudzarr.metadata.frozen import thaw

__all__ = [
    "BloscCodec",
    "BytesCodec",
    "Crc32cCodec",
    "GzipCodec",
    "NumcodecsArrayCodec",
    "NumcodecsBytesCodec",
    "TransposeCodec",
    "VLenUTF8Codec",
    "ZstdCodec",
    "array_array_codec",
    "array_bytes_codec",
    "bytes_bytes_codec",
    "check_blosc_frame",
    "check_vlen_header",
    "register_array_bytes_codec",
]

_NATIVE_ENDIAN = sys.byteorder  # "little" or "big"
_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}

#: Factories for array->bytes codecs implemented elsewhere (``sharding_indexed``).
ArrayBytesFactory = Callable[[CodecSpec, np.dtype[Any], "tuple[int, ...] | None"], ArrayBytesCodec]
_ARRAY_BYTES_FACTORIES: dict[str, ArrayBytesFactory] = {}


def register_array_bytes_codec(name: str, factory: ArrayBytesFactory) -> None:
    """Register a factory ``(spec, dtype, chunk_shape) -> ArrayBytesCodec`` for codec ``name``.

    The arrays layer registers ``sharding_indexed`` here; ``chunk_shape`` is the (shard) chunk
    shape when the pipeline was built with one.
    """
    _ARRAY_BYTES_FACTORIES[name] = factory


# --- array -> array ----------------------------------------------------------------------------


class TransposeCodec(ArrayArrayCodec):
    """``transpose``: permutes the chunk's axes (a view; the serialiser copies once)."""

    name = "transpose"

    def __init__(self, order: tuple[int, ...]) -> None:
        self.order = tuple(order)
        self.inverse = tuple(int(i) for i in np.argsort(self.order))

    def resolve(
        self, dtype: np.dtype[Any], shape: tuple[int, ...]
    ) -> tuple[np.dtype[Any], tuple[int, ...]]:
        return dtype, tuple(shape[i] for i in self.order)

    def encode(self, chunk: np.ndarray) -> np.ndarray:
        return chunk.transpose(self.order)

    def decode(self, chunk: np.ndarray, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        return chunk.transpose(self.inverse)


class NumcodecsArrayCodec(ArrayArrayCodec):
    """``numcodecs.<id>`` array filters (``delta``, ``fixedscaleoffset``, ``quantize``...)."""

    def __init__(self, name: str, codec: Numcodec) -> None:
        self.name = name
        self.codec = codec

    def resolve(
        self, dtype: np.dtype[Any], shape: tuple[int, ...]
    ) -> tuple[np.dtype[Any], tuple[int, ...]]:
        # FixedScaleOffset spells the encoded dtype "astype", AsType "encode_dtype".
        encoded = getattr(self.codec, "astype", None) or getattr(self.codec, "encode_dtype", None)
        return (np.dtype(encoded) if encoded is not None else dtype), shape

    def encode(self, chunk: np.ndarray) -> np.ndarray:
        out = np.asarray(self.codec.encode(np.ascontiguousarray(chunk)))
        return out.reshape(chunk.shape)

    def decode(self, chunk: np.ndarray, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        out = np.asarray(self.codec.decode(np.ascontiguousarray(chunk)))
        if out.dtype != dtype:
            # Raw bytes are reinterpreted; values of another dtype are converted.
            out = out.view(dtype) if out.dtype == np.uint8 else out.astype(dtype)
        return out.reshape(shape)


# --- array -> bytes ----------------------------------------------------------------------------


class BytesCodec(ArrayBytesCodec):
    """``bytes``: the chunk's C-order bytes in the given endianness."""

    name = "bytes"

    def __init__(self, endian: str | None) -> None:
        self.endian = endian or _NATIVE_ENDIAN

    def stored_dtype(self, dtype: np.dtype[Any]) -> np.dtype[Any]:
        """The dtype of the stored bytes (``dtype`` in the codec's byte order)."""
        if not has_byte_order(dtype):
            return dtype
        return dtype.newbyteorder("<" if self.endian == "little" else ">")

    _stored = stored_dtype  # kept for callers that used the early private name

    def encode(self, chunk: np.ndarray) -> Buffer:
        stored = self.stored_dtype(chunk.dtype)
        if chunk.dtype != stored:
            chunk = chunk.astype(stored, order="C")
        # A C-contiguous chunk is passed through without a copy.
        return np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)

    def decode(self, data: Buffer, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        stored = self.stored_dtype(dtype)
        raw = as_uint8(data)
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if raw.size != expected:
            raise ChunkDecodeError(
                f"codec bytes: expected {expected} bytes for shape {list(shape)}, got {raw.size}"
            )
        out = raw.view(stored).reshape(shape)
        return out if stored == dtype else out.astype(dtype)

    def encoded_size(self, dtype: np.dtype[Any], shape: tuple[int, ...]) -> int | None:
        return int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


_VLEN_UTF8 = numcodecs.VLenUTF8()
_VLEN_BYTES = numcodecs.VLenBytes()


class VLenBytesCodec(ArrayBytesCodec):
    """``vlen-bytes``: variable-length bytes in numcodecs' VLenBytes layout (an object array
    of ``bytes`` in memory)."""

    name = "vlen-bytes"

    def encode(self, chunk: np.ndarray) -> Buffer:
        # numcodecs' VLenBytes needs a writable buffer (a broadcast value is read-only).
        objects = chunk.astype(object, copy=not chunk.flags.writeable)
        return _VLEN_BYTES.encode(np.ascontiguousarray(objects))

    def decode(self, data: Buffer, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        check_vlen_header(data, int(np.prod(shape, dtype=np.int64)))
        decoded: np.ndarray = _VLEN_BYTES.decode(data)
        return decoded.reshape(shape)


class VLenUTF8Codec(ArrayBytesCodec):
    """``vlen-utf8``: variable-length UTF-8 strings in numcodecs' VLenUTF8 layout."""

    name = "vlen-utf8"

    def encode(self, chunk: np.ndarray) -> Buffer:
        # numcodecs flattens in "A" order; a C-contiguous object array keeps C element order.
        objects = np.ascontiguousarray(chunk.astype(object, copy=False))
        return _VLEN_UTF8.encode(objects)

    def decode(self, data: Buffer, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        expected = int(np.prod(shape, dtype=np.int64))
        check_vlen_header(data, expected)
        decoded = _VLEN_UTF8.decode(data)
        return decoded.reshape(shape).astype(STRING_DTYPE)


def check_vlen_header(data: Buffer, expected: int) -> None:
    """Refuse a vlen-utf8 buffer whose item count is not ``expected`` or cannot fit.

    numcodecs allocates the object array from the header's count before reading anything, so
    a corrupt count would allocate gigabytes first.
    """
    raw = as_uint8(data)
    if raw.size < 4:
        raise ChunkDecodeError(f"codec vlen-utf8: {raw.size} bytes is shorter than its header")
    count = int.from_bytes(raw[:4].tobytes(), "little")
    if count != expected or 4 + 4 * count > raw.size:
        raise ChunkDecodeError(
            f"codec vlen-utf8: header says {count} strings in {raw.size} bytes, expected {expected}"
        )


# --- bytes -> bytes ----------------------------------------------------------------------------


class NumcodecsBytesCodec(BytesBytesCodec):
    """A bytes->bytes codec backed by a numcodecs instance."""

    def __init__(self, name: str, codec: Numcodec) -> None:
        self.name = name
        # Checked so that decode(..., out=) refuses a frame of the wrong size (see direct.py).
        self.codec = CheckedNumcodec.wrap(codec)

    def encode(self, data: Buffer) -> Buffer:
        return self.codec.encode(data)

    def decode(self, data: Buffer) -> Buffer:
        return self.codec.decode(data)


class GzipCodec(NumcodecsBytesCodec):
    """``gzip`` (numcodecs GZip)."""

    def __init__(self, level: int) -> None:
        super().__init__("gzip", numcodecs.GZip(level=level))


class ZstdCodec(NumcodecsBytesCodec):
    """``zstd`` (numcodecs Zstd; releases the GIL)."""

    def __init__(self, level: int, checksum: bool) -> None:
        super().__init__("zstd", numcodecs.Zstd(level=level, checksum=checksum))


class BloscCodec(NumcodecsBytesCodec):
    """``blosc`` (numcodecs Blosc, with the configured ``typesize`` like zarr-python)."""

    def __init__(self, cname: str, clevel: int, shuffle: str, typesize: int, blocksize: int):
        try:
            codec = numcodecs.Blosc(
                cname=cname,
                clevel=clevel,
                shuffle=_SHUFFLE[shuffle],
                blocksize=blocksize,
                typesize=typesize,
            )
        except TypeError:
            # numcodecs < 0.16 has no typesize (it shuffles by the buffer's itemsize, which the
            # bytes codec passes as 1); zarr-python does the same there.
            codec = numcodecs.Blosc(
                cname=cname, clevel=clevel, shuffle=_SHUFFLE[shuffle], blocksize=blocksize
            )
        super().__init__("blosc", codec)

    def decode(self, data: Buffer) -> Buffer:
        check_blosc_frame(data)
        return self.codec.decode(data)


def check_blosc_frame(data: Buffer) -> None:
    """Refuse a blosc frame whose length differs from its header's compressed size.

    numcodecs' blosc decoder trusts the header, so a truncated frame would be read past its end
    (and may "succeed" with garbage) instead of failing.
    """
    raw = as_uint8(data)
    if raw.size < 16:
        raise ChunkDecodeError(f"codec blosc: {raw.size} bytes is shorter than a blosc header")
    cbytes = int.from_bytes(raw[12:16].tobytes(), "little")
    if cbytes != raw.size:
        raise ChunkDecodeError(
            f"codec blosc: frame is {raw.size} bytes but its header says {cbytes} (truncated?)"
        )


class Crc32cCodec(BytesBytesCodec):
    """``crc32c``: appends the CRC32C of the data as 4 little-endian bytes; checks on decode."""

    name = "crc32c"

    def encode(self, data: Buffer) -> Buffer:
        raw = as_uint8(data)
        checksum = _crc32c.crc32c(raw).to_bytes(4, "little")
        return b"".join((memoryview(raw), checksum))  # one copy

    def decode(self, data: Buffer) -> Buffer:
        raw = as_uint8(data)
        if raw.size < 4:
            raise ChunkDecodeError(f"codec crc32c: {raw.size} bytes is too short for a checksum")
        body = raw[:-4]
        stored = int.from_bytes(raw[-4:].tobytes(), "little")
        actual = _crc32c.crc32c(body)
        if stored != actual:
            raise ChunkDecodeError(
                f"codec crc32c: checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
            )
        return body

    def encoded_size(self, size: int) -> int | None:
        return size + 4


# --- construction ------------------------------------------------------------------------------


def _numcodec(spec: CodecSpec) -> Numcodec:
    codec_id = spec.name[len("numcodecs.") :]
    try:
        return numcodecs.get_codec({"id": codec_id, **thaw(spec.configuration)})
    except (ValueError, TypeError, KeyError) as exc:
        raise UnsupportedCodecError(f"codec {spec.name!r}: {exc}") from None


def array_array_codec(spec: CodecSpec) -> ArrayArrayCodec:
    """Build an array->array codec from its spec."""
    if spec.name == "transpose":
        return TransposeCodec(tuple(spec.configuration["order"]))
    if spec.name.startswith("numcodecs."):
        return NumcodecsArrayCodec(spec.name, _numcodec(spec))
    raise UnsupportedCodecError(f"codec {spec.name!r} is not an array->array codec")


def array_bytes_codec(
    spec: CodecSpec, dtype: np.dtype[Any], chunk_shape: tuple[int, ...] | None = None
) -> ArrayBytesCodec:
    """Build an array->bytes codec from its spec (sharding through the registry)."""
    if spec.name == "bytes":
        return BytesCodec(spec.configuration.get("endian"))
    if spec.name == "vlen-utf8":
        return VLenUTF8Codec()
    if spec.name == "vlen-bytes":
        return VLenBytesCodec()
    factory = _ARRAY_BYTES_FACTORIES.get(spec.name)
    if factory is not None:
        return factory(spec, dtype, chunk_shape)
    raise UnsupportedCodecError(f"codec {spec.name!r}: no array->bytes implementation available")


def bytes_bytes_codec(spec: CodecSpec) -> BytesBytesCodec:
    """Build a bytes->bytes codec from its spec."""
    c = spec.configuration
    if spec.name == "zstd":
        return ZstdCodec(c["level"], c["checksum"])
    if spec.name == "gzip":
        return GzipCodec(c["level"])
    if spec.name == "blosc":
        return BloscCodec(c["cname"], c["clevel"], c["shuffle"], c["typesize"], c["blocksize"])
    if spec.name == "crc32c":
        return Crc32cCodec()
    if spec.name.startswith("numcodecs."):
        return NumcodecsBytesCodec(spec.name, _numcodec(spec))
    raise UnsupportedCodecError(f"codec {spec.name!r} is not a bytes->bytes codec")
