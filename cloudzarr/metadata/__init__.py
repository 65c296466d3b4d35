"""Zarr metadata: frozen dataclasses with ``from_dict`` / ``to_dict``, validated at the boundary."""

from cloudzarr.metadata.array_v2 import ArrayMetadataV2
from cloudzarr.metadata.array_v3 import ArrayMetadataV3, ChunkKeyEncoding
from cloudzarr.metadata.codec_specs import CodecSpec, parse_v3_codecs
from cloudzarr.metadata.dtypes import (
    STRING_DTYPE,
    is_string_dtype,
    normalize_dtype,
    parse_v2_dtype,
    parse_v3_data_type,
    v2_dtype_string,
    v3_data_type_name,
)
from cloudzarr.metadata.fill_value import (
    default_fill_value,
    encode_fill_value_v2,
    encode_fill_value_v3,
    fill_values_equal,
    normalize_fill_value,
    parse_fill_value_v2,
    parse_fill_value_v3,
)
from cloudzarr.metadata.frozen import FrozenDict, deep_freeze, thaw
from cloudzarr.metadata.jsonio import dump_document, load_document

__all__ = [
    "STRING_DTYPE",
    "ArrayMetadataV2",
    "ArrayMetadataV3",
    "ChunkKeyEncoding",
    "CodecSpec",
    "FrozenDict",
    "deep_freeze",
    "default_fill_value",
    "dump_document",
    "encode_fill_value_v2",
    "encode_fill_value_v3",
    "fill_values_equal",
    "is_string_dtype",
    "load_document",
    "normalize_dtype",
    "normalize_fill_value",
    "parse_fill_value_v2",
    "parse_fill_value_v3",
    "parse_v2_dtype",
    "parse_v3_codecs",
    "parse_v3_data_type",
    "thaw",
    "v2_dtype_string",
    "v3_data_type_name",
]
