"""Codec pipelines: one chunk's numpy array <-> its stored bytes.

Interface (stable; the arrays layer builds on it)::

    pipeline = CodecPipeline.from_metadata(metadata)        # ArrayMetadataV2 or V3
    pipeline = CodecPipeline.from_v3(codecs, dtype, chunk_shape)   # any sub-list of v3 codecs
    pipeline = CodecPipeline.from_v2(compressor, filters, dtype, order, chunk_shape)
    data: bytes = pipeline.encode(chunk)                    # chunk: array of chunk_shape
    chunk = pipeline.decode(data)                           # or decode(data, chunk_shape)
    pipeline.decode_into(data, out)                         # into a preallocated chunk buffer
    pipeline.encoded_size()                                 # fixed size or None

    chain = BytesCodecChain.from_v3(codec_specs)            # bytes->bytes codecs only
    chain.encode(raw) / chain.decode(raw)

- ``decode`` returns an array of exactly ``pipeline.dtype`` (the metadata's dtype) and the chunk
  shape. It may be a read-only view of the input or of a decompressed buffer: copy before
  modifying it. Any failure raises :class:`~cloudzarr.errors.ChunkDecodeError` whose message
  starts with the codec's name; the arrays layer prefixes the array path and chunk key.
- ``decode_into(data, out)`` fills ``out`` (an array of the pipeline's dtype and the chunk
  shape). When ``out`` is C-contiguous and the pipeline is "native-endian ``bytes`` + one of
  zstd / blosc / lz4 (+ checksums)", the decompressor writes straight into ``out`` (no
  intermediate chunk buffer, no copy) after checking the frame's announced size against
  ``out.nbytes``; otherwise it decodes and copies.
- ``encode`` accepts any array castable to the pipeline's dtype (object arrays of ``str`` for
  string arrays) and returns ``bytes``. A C-contiguous chunk of the stored dtype is compressed
  without an intermediate copy.
- Both are synchronous and thread-safe; numcodecs releases the GIL for zstd, blosc and zlib, so
  the arrays layer can run them in a thread pool.
- Sharding: the arrays layer registers ``sharding_indexed`` with
  :func:`cloudzarr.codecs.v3.register_array_bytes_codec`, and builds the inner-chunk pipeline
  with ``CodecPipeline.from_v3(spec.configuration["codecs"], dtype, inner_chunk_shape)`` and the
  index pipeline with ``CodecPipeline.from_v3(spec.configuration["index_codecs"],
  np.dtype("uint64"), (*chunks_per_shard, 2))``, whose ``encoded_size()`` is fixed
  (``bytes`` + ``crc32c``: 16 bytes per inner chunk + 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

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
from cloudzarr.codecs.direct import (
    DIRECT_CODEC_IDS,
    CheckedNumcodec,
    check_announced,
    decoded_nbytes,
)
from cloudzarr.codecs.v3 import (
    BytesCodec,
    NumcodecsBytesCodec,
    array_array_codec,
    array_bytes_codec,
    bytes_bytes_codec,
    check_blosc_frame,
    check_vlen_header,
)
from cloudzarr.errors import ChunkDecodeError, UnsupportedCodecError
from cloudzarr.metadata.codec_specs import CodecSpec, parse_v3_codecs
from cloudzarr.metadata.dtypes import STRING_DTYPE, is_string_dtype
from cloudzarr.metadata.frozen import thaw

if TYPE_CHECKING:
    from cloudzarr.metadata.array_v2 import ArrayMetadataV2
    from cloudzarr.metadata.array_v3 import ArrayMetadataV3

__all__ = ["BytesCodecChain", "CodecPipeline", "V2CodecPipeline", "V3CodecPipeline"]


def _to_bytes(data: Buffer) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, np.ndarray):
        return data.tobytes()
    return bytes(data)


def _decode_error(name: str, exc: BaseException) -> ChunkDecodeError:
    if isinstance(exc, ChunkDecodeError):
        return exc
    return ChunkDecodeError(f"codec {name}: {type(exc).__name__}: {exc}")


class BytesCodecChain:
    """A chain of bytes->bytes codecs, applied in order on encode and reversed on decode."""

    def __init__(self, codecs: Sequence[BytesBytesCodec]) -> None:
        self.codecs = tuple(codecs)

    @classmethod
    def from_v3(cls, specs: Iterable[CodecSpec]) -> BytesCodecChain:
        """Build from v3 bytes->bytes codec specs (``UnsupportedCodecError`` otherwise)."""
        return cls([bytes_bytes_codec(s) for s in specs])

    def encode(self, data: Buffer) -> Buffer:
        """Encode a buffer through every codec."""
        for codec in self.codecs:
            data = codec.encode(data)
        return data

    def decode(self, data: Buffer) -> Buffer:
        """Decode a buffer (``ChunkDecodeError`` naming the failing codec)."""
        for codec in reversed(self.codecs):
            try:
                data = codec.decode(data)
            except Exception as exc:
                raise _decode_error(codec.name, exc) from exc
        return data

    def encoded_size(self, size: int) -> int | None:
        """Encoded length of a ``size``-byte input when every codec's is fixed, else ``None``."""
        result: int | None = size
        for codec in self.codecs:
            if result is None:
                return None
            result = codec.encoded_size(result)
        return result


class CodecPipeline:
    """Turns one chunk array into stored bytes and back (see the module docstring)."""

    dtype: np.dtype[Any]
    chunk_shape: tuple[int, ...] | None

    @staticmethod
    def from_metadata(metadata: ArrayMetadataV2 | ArrayMetadataV3) -> CodecPipeline:
        """The pipeline of an array's chunks (the shard-level pipeline when sharded)."""
        if metadata.zarr_format == 3:
            return V3CodecPipeline.from_v3(
                metadata.codecs,
                metadata.dtype,
                metadata.chunks,
            )
        return V2CodecPipeline.from_v2(
            metadata.compressor,
            metadata.filters,
            metadata.dtype,
            metadata.order,
            metadata.chunks,
        )

    @staticmethod
    def from_v3(
        codecs: Sequence[CodecSpec | Mapping[str, Any]],
        dtype: np.dtype[Any],
        chunk_shape: Sequence[int] | None = None,
    ) -> V3CodecPipeline:
        """A v3 pipeline from codec specs (or JSON dicts, validated here)."""
        return V3CodecPipeline.from_v3(codecs, dtype, chunk_shape)

    @staticmethod
    def from_v2(
        compressor: Mapping[str, Any] | Numcodec | None,
        filters: Sequence[Mapping[str, Any] | Numcodec] | None,
        dtype: np.dtype[Any],
        order: Literal["C", "F"] = "C",
        chunk_shape: Sequence[int] | None = None,
    ) -> V2CodecPipeline:
        """A v2 pipeline from numcodecs configs (or instances)."""
        return V2CodecPipeline.from_v2(compressor, filters, dtype, order, chunk_shape)

    def _shape(self, chunk_shape: Sequence[int] | None) -> tuple[int, ...]:
        if chunk_shape is not None:
            return tuple(chunk_shape)
        if self.chunk_shape is None:
            raise ValueError("decode needs a chunk_shape: the pipeline was built without one")
        return self.chunk_shape

    def encode(self, chunk: np.ndarray) -> bytes:
        """Encode one chunk to bytes."""
        raise NotImplementedError

    def decode(self, data: Buffer, chunk_shape: Sequence[int] | None = None) -> np.ndarray:
        """Decode one chunk's bytes (``ChunkDecodeError`` on corrupt or truncated data)."""
        raise NotImplementedError

    def encoded_size(self, chunk_shape: Sequence[int] | None = None) -> int | None:
        """Encoded length of a chunk when it does not depend on the values, else ``None``."""
        return None

    def decode_into(self, data: Buffer, out: np.ndarray) -> None:
        """Decode one chunk into ``out`` (shape = the chunk shape, dtype = ``self.dtype``).

        Raises
        ------
        ChunkDecodeError
            As :meth:`decode`; ``out`` may then hold partial data.
        """
        if self._direct(data, out):
            return
        out[...] = self.decode(data, out.shape)

    def _direct(self, data: Buffer, out: np.ndarray) -> bool:
        return False


def _decode_direct(codec: Numcodec, name: str, data: Buffer, out: np.ndarray) -> bool:
    """Decompress ``data`` into C-contiguous ``out`` if the frame's size matches exactly."""
    if codec.codec_id not in DIRECT_CODEC_IDS:
        return False
    announced = decoded_nbytes(codec.codec_id, data)
    check_announced(codec.codec_id, announced, out.nbytes)
    if announced != out.nbytes:
        return False
    try:
        codec.decode(data, out=out.reshape(-1).view(np.uint8))
    except Exception as exc:
        raise _decode_error(name, exc) from exc
    return True


def _copy_into(raw: Buffer, out: np.ndarray, name: str) -> bool:
    flat = as_uint8(raw)
    if flat.size != out.nbytes:
        raise ChunkDecodeError(
            f"codec {name}: expected {out.nbytes} bytes for shape {list(out.shape)}, "
            f"got {flat.size}"
        )
    out.reshape(-1).view(np.uint8)[...] = flat
    return True


class V3CodecPipeline(CodecPipeline):
    """Array->array codecs, one array->bytes codec, then bytes->bytes codecs."""

    def __init__(
        self,
        array_array: Sequence[ArrayArrayCodec],
        array_bytes: ArrayBytesCodec,
        bytes_bytes: Sequence[BytesBytesCodec],
        dtype: np.dtype[Any],
        chunk_shape: Sequence[int] | None = None,
    ) -> None:
        self.array_array = tuple(array_array)
        self.array_bytes = array_bytes
        self.bytes_chain = BytesCodecChain(bytes_bytes)
        self.dtype = np.dtype(dtype)
        self.chunk_shape = None if chunk_shape is None else tuple(chunk_shape)

    @classmethod
    def from_v3(
        cls,
        codecs: Sequence[CodecSpec | Mapping[str, Any]],
        dtype: np.dtype[Any],
        chunk_shape: Sequence[int] | None = None,
    ) -> V3CodecPipeline:
        dtype = np.dtype(dtype)
        specs = [c for c in codecs if isinstance(c, CodecSpec)]
        if len(specs) != len(codecs):
            ndim = len(chunk_shape) if chunk_shape is not None else None
            if ndim is None:
                raise ValueError("from_v3 with JSON codecs needs chunk_shape to validate them")
            specs = list(parse_v3_codecs(list(codecs), dtype=dtype, ndim=ndim))
        array_array = [array_array_codec(s) for s in specs if s.kind == "array_array"]
        serialisers = [s for s in specs if s.kind == "array_bytes"]
        if len(serialisers) != 1:
            raise UnsupportedCodecError(
                f"codecs: need exactly one array->bytes codec, got {[s.name for s in specs]}"
            )
        # The serialiser sees the dtype/shape produced by the array->array codecs.
        inner_dtype, inner_shape = dtype, None if chunk_shape is None else tuple(chunk_shape)
        for codec in array_array:
            if inner_shape is not None:
                inner_dtype, inner_shape = codec.resolve(inner_dtype, inner_shape)
        array_bytes = array_bytes_codec(serialisers[0], inner_dtype, inner_shape)
        bytes_bytes = [bytes_bytes_codec(s) for s in specs if s.kind == "bytes_bytes"]
        return cls(array_array, array_bytes, bytes_bytes, dtype, chunk_shape)

    def _layers(self, shape: tuple[int, ...]) -> list[tuple[np.dtype[Any], tuple[int, ...]]]:
        layers = [(self.dtype, shape)]
        for codec in self.array_array:
            layers.append(codec.resolve(*layers[-1]))
        return layers

    def encode(self, chunk: np.ndarray) -> bytes:
        arr = np.asarray(chunk)
        if is_string_dtype(self.dtype):
            if not is_string_dtype(arr.dtype) and arr.dtype.kind != "U":
                raise TypeError(f"cannot encode {arr.dtype} data into a string array")
        elif arr.dtype != self.dtype:
            arr = arr.astype(self.dtype)
        for codec in self.array_array:
            arr = codec.encode(arr)
        return _to_bytes(self.bytes_chain.encode(self.array_bytes.encode(arr)))

    def decode(self, data: Buffer, chunk_shape: Sequence[int] | None = None) -> np.ndarray:
        shape = self._shape(chunk_shape)
        layers = self._layers(shape)
        chain = self.bytes_chain.codecs
        if len(chain) == 1 and isinstance(chain[0], NumcodecsBytesCodec):
            # Refuse a frame announcing the wrong size before numcodecs allocates for it.
            expected = self.array_bytes.encoded_size(*layers[-1])
            if expected is not None:
                codec_id = chain[0].codec.codec_id
                check_announced(codec_id, decoded_nbytes(codec_id, data), expected)
        raw = self.bytes_chain.decode(data)
        try:
            arr = self.array_bytes.decode(raw, *layers[-1])
        except Exception as exc:
            raise _decode_error(self.array_bytes.name, exc) from exc
        for codec, (dtype, layer_shape) in zip(
            reversed(self.array_array), reversed(layers[:-1]), strict=True
        ):
            try:
                arr = codec.decode(arr, dtype, layer_shape)
            except Exception as exc:
                raise _decode_error(codec.name, exc) from exc
        return arr

    def encoded_size(self, chunk_shape: Sequence[int] | None = None) -> int | None:
        shape = self._shape(chunk_shape)
        size = self.array_bytes.encoded_size(*self._layers(shape)[-1])
        return None if size is None else self.bytes_chain.encoded_size(size)

    def _direct(self, data: Buffer, out: np.ndarray) -> bool:
        if (
            self.array_array
            or not isinstance(self.array_bytes, BytesCodec)
            or self.array_bytes.stored_dtype(self.dtype) != self.dtype
            or out.dtype != self.dtype
            or not out.flags.c_contiguous
        ):
            return False
        chain = self.bytes_chain.codecs
        # Checksums and other outer codecs decode normally; only the innermost one goes direct.
        outer = BytesCodecChain(chain[1:]) if chain else None
        raw = outer.decode(data) if outer is not None else data
        if not chain:
            return _copy_into(raw, out, "bytes")
        first = chain[0]
        if isinstance(first, NumcodecsBytesCodec) and _decode_direct(
            first.codec, first.name, raw, out
        ):
            return True
        out[...] = self._decode_inner(raw, out.shape)
        return True

    def _decode_inner(self, raw: Buffer, shape: tuple[int, ...]) -> np.ndarray:
        # Finish a decode whose outer bytes->bytes codecs were already applied.
        return V3CodecPipeline(
            (), self.array_bytes, self.bytes_chain.codecs[:1], self.dtype, shape
        ).decode(raw)


def _as_numcodec(value: Mapping[str, Any] | Numcodec, where: str) -> Numcodec:
    if isinstance(value, Numcodec):
        return CheckedNumcodec.wrap(value)
    try:
        return CheckedNumcodec.wrap(numcodecs.get_codec(thaw(value)))
    except (ValueError, TypeError, KeyError) as exc:
        raise UnsupportedCodecError(
            f"{where}: unknown or invalid numcodecs codec ({exc})"
        ) from None


class V2CodecPipeline(CodecPipeline):
    """Zarr v2: filters (in order), then the compressor; chunk bytes in ``order`` C or F."""

    def __init__(
        self,
        compressor: Numcodec | None,
        filters: Sequence[Numcodec],
        dtype: np.dtype[Any],
        order: Literal["C", "F"] = "C",
        chunk_shape: Sequence[int] | None = None,
    ) -> None:
        self.compressor = compressor
        self.filters = tuple(filters)
        self.dtype = np.dtype(dtype)
        self.order: Literal["C", "F"] = order
        self.chunk_shape = None if chunk_shape is None else tuple(chunk_shape)
        self._strings = is_string_dtype(self.dtype)

    @classmethod
    def from_v2(
        cls,
        compressor: Mapping[str, Any] | Numcodec | None,
        filters: Sequence[Mapping[str, Any] | Numcodec] | None,
        dtype: np.dtype[Any],
        order: Literal["C", "F"] = "C",
        chunk_shape: Sequence[int] | None = None,
    ) -> V2CodecPipeline:
        comp = None if compressor is None else _as_numcodec(compressor, "compressor")
        flts = [_as_numcodec(f, f"filters[{i}]") for i, f in enumerate(filters or ())]
        return cls(comp, flts, dtype, order, chunk_shape)

    def encode(self, chunk: np.ndarray) -> bytes:
        arr = np.asarray(chunk)
        if self._strings:
            # numcodecs' VLenBytes needs a writable buffer (a broadcast value is read-only).
            arr = arr.astype(object, copy=not arr.flags.writeable)
        elif arr.dtype != self.dtype:
            arr = arr.astype(self.dtype)
        # ravel in the stored order: a view for a chunk already laid out that way.
        data: Any = arr.ravel(order=self.order)
        for f in self.filters:
            data = f.encode(data)
        if self._strings and isinstance(data, np.ndarray) and data.dtype == object:
            raise UnsupportedCodecError("filters: string arrays need a vlen-utf8 filter")
        if self.compressor is not None:
            data = self.compressor.encode(data)
        return _to_bytes(data)

    def decode(self, data: Buffer, chunk_shape: Sequence[int] | None = None) -> np.ndarray:
        shape = self._shape(chunk_shape)
        out: Any = data
        if self.compressor is not None and not self.filters and not self._strings:
            # Refuse a frame announcing the wrong size before numcodecs allocates for it.
            expected = int(np.prod(shape, dtype=np.int64)) * self.dtype.itemsize
            codec_id = self.compressor.codec_id
            check_announced(codec_id, decoded_nbytes(codec_id, data), expected)
        if self.compressor is not None:
            try:
                if self.compressor.codec_id == "blosc":
                    check_blosc_frame(out)
                out = self.compressor.decode(out)
            except Exception as exc:
                raise _decode_error(self.compressor.codec_id, exc) from exc
        for f in reversed(self.filters):
            try:
                if f.codec_id == "vlen-utf8":
                    check_vlen_header(out, int(np.prod(shape, dtype=np.int64)))
                out = f.decode(out)
            except Exception as exc:
                raise _decode_error(f.codec_id, exc) from exc
        expected = int(np.prod(shape, dtype=np.int64))
        if self._strings:
            arr = np.asarray(out)
            if arr.dtype != object or arr.size != expected:
                raise ChunkDecodeError(
                    f"codec vlen-utf8: expected {expected} strings, got {arr.size} {arr.dtype}"
                )
            arr = arr.reshape(shape, order=self.order)
            # An object array of bytes stays one (vlen-bytes); strings become StringDType.
            return arr if self.dtype == np.dtype("O") else arr.astype(STRING_DTYPE)
        flat = np.asarray(out) if isinstance(out, np.ndarray) else as_uint8(out)
        if flat.dtype != self.dtype:
            flat = flat.reshape(-1).view(np.uint8)
            if flat.size != expected * self.dtype.itemsize:
                name = self.compressor.codec_id if self.compressor is not None else "none"
                raise ChunkDecodeError(
                    f"codec {name}: expected {expected * self.dtype.itemsize} bytes for chunk "
                    f"shape {list(shape)}, got {flat.size}"
                )
            flat = flat.view(self.dtype)
        elif flat.size != expected:
            raise ChunkDecodeError(
                f"filters: expected {expected} items for chunk shape {list(shape)}, got {flat.size}"
            )
        return flat.reshape(shape, order=self.order)

    def _direct(self, data: Buffer, out: np.ndarray) -> bool:
        if (
            self.filters
            or self._strings
            or out.dtype != self.dtype
            or not (out.flags.c_contiguous if self.order == "C" else out.flags.f_contiguous)
        ):
            return False
        # An F-ordered chunk's bytes are the C bytes of its transpose.
        target = out if self.order == "C" or out.ndim < 2 else out.T
        if self.compressor is None:
            return _copy_into(data, target, "none")
        return _decode_direct(self.compressor, self.compressor.codec_id, data, target)

    def encoded_size(self, chunk_shape: Sequence[int] | None = None) -> int | None:
        if self.compressor is not None or self.filters or self._strings:
            return None
        return int(np.prod(self._shape(chunk_shape), dtype=np.int64)) * self.dtype.itemsize
