"""Chunk codecs: numpy chunk <-> stored bytes, for Zarr v3 codec lists and v2 numcodecs configs.

See :mod:`cloudzarr.codecs.pipeline` for the interface the arrays layer uses, and
:mod:`cloudzarr.codecs.normalize` for turning ``compressors=`` / ``filters=`` into metadata.
"""

from cloudzarr.codecs.base import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
from cloudzarr.codecs.normalize import (
    DEFAULT_V2_COMPRESSOR,
    default_v3_compressors,
    default_v3_serializer,
    normalize_v2_compressor,
    normalize_v2_filters,
    normalize_v3_codecs,
)
from cloudzarr.codecs.pipeline import (
    BytesCodecChain,
    CodecPipeline,
    V2CodecPipeline,
    V3CodecPipeline,
)
from cloudzarr.codecs.v3 import register_array_bytes_codec

__all__ = [
    "DEFAULT_V2_COMPRESSOR",
    "ArrayArrayCodec",
    "ArrayBytesCodec",
    "BytesBytesCodec",
    "BytesCodecChain",
    "CodecPipeline",
    "V2CodecPipeline",
    "V3CodecPipeline",
    "default_v3_compressors",
    "default_v3_serializer",
    "normalize_v2_compressor",
    "normalize_v2_filters",
    "normalize_v3_codecs",
    "register_array_bytes_codec",
]
