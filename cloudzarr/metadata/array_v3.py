"""Zarr v3 array metadata (``zarr.json`` with ``node_type: "array"``).

:class:`ArrayMetadataV3` is a frozen dataclass validated at the boundary (``from_dict``). Fields
mirror the document; ``chunks`` is the regular chunk grid's ``chunk_shape`` (the shard shape when
the array is sharded) and ``codecs`` a tuple of :class:`~cloudzarr.metadata.codec_specs.CodecSpec`.
Unknown top-level fields are refused unless they are objects with ``must_understand: false``;
those are kept in ``extra_fields`` and written back unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from cloudzarr.config import config
from cloudzarr.errors import (
    InvalidMetadataError,
    UnsupportedCodecError,
    UnsupportedError,
    UnsupportedFormatError,
)
from cloudzarr.metadata.codec_specs import CodecSpec, codecs_to_json, parse_v3_codecs
from cloudzarr.metadata.dtypes import normalize_dtype, parse_v3_data_type, v3_data_type_name
from cloudzarr.metadata.fill_value import (
    encode_fill_value_v3,
    fill_values_equal,
    normalize_fill_value,
    parse_fill_value_v3,
)
from cloudzarr.metadata.frozen import FrozenDict, deep_freeze, thaw
from cloudzarr.metadata.jsonio import check_json_value, dump_document

__all__ = ["ArrayMetadataV3", "ChunkKeyEncoding"]

ZARR_JSON = "zarr.json"

_KNOWN_FIELDS = {
    "zarr_format",
    "node_type",
    "shape",
    "data_type",
    "chunk_grid",
    "chunk_key_encoding",
    "fill_value",
    "codecs",
    "attributes",
    "dimension_names",
    "storage_transformers",
}


def _where(key: str | None, fld: str) -> str:
    return f"{key}: {fld}" if key else fld


#: Most dimensions an array may have (numpy's own limit).
MAX_NDIM = 64
#: Largest extent, and largest element count, of an array or chunk: what an int64 holds, which
#: numpy and every index computation assume.
MAX_EXTENT = 2**63 - 1


def parse_shape(value: Any, where: str, *, positive: bool = False) -> tuple[int, ...]:
    """Validate a JSON list of non-negative (or positive) integers that numpy can index: at most
    :data:`MAX_NDIM` of them, each and their product at most :data:`MAX_EXTENT`."""
    if not isinstance(value, list | tuple):
        raise InvalidMetadataError(f"{where}: must be a list of integers, got {_short(value)}")
    if len(value) > MAX_NDIM:
        raise InvalidMetadataError(
            f"{where}: {len(value)} dimensions, more than the {MAX_NDIM} numpy supports"
        )
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value):
        raise InvalidMetadataError(f"{where}: must be a list of integers, got {_short(value)}")
    out = tuple(int(v) for v in value)
    low = 1 if positive else 0
    if any(v < low for v in out):
        sign = "positive" if positive else "non-negative"
        raise InvalidMetadataError(f"{where}: must be {sign} integers, got {_short(list(out))}")
    if any(v > MAX_EXTENT for v in out) or math.prod(out) > MAX_EXTENT:
        raise InvalidMetadataError(
            f"{where}: {_short(list(out))} holds more than 2**63 - 1 elements (int64)"
        )
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else f"{text[:150]}... ({len(text)} characters)"


def check_chunk_bytes(chunks: tuple[int, ...], dtype: np.dtype[Any], where: str) -> None:
    """Refuse a chunk (or shard) larger than ``metadata.max_chunk_bytes`` decoded: reading one
    allocates that much, so a hostile document could otherwise ask for any amount of memory."""
    # Variable-length strings count one byte each: the least they can take.
    nbytes = math.prod(chunks) * max(dtype.itemsize, 1)
    limit = config.get("metadata.max_chunk_bytes")
    if nbytes > limit:
        raise InvalidMetadataError(
            f"{where}: a chunk of {_short(list(chunks))} {dtype} elements is {nbytes} bytes, "
            f"more than the limit of {limit} (config 'metadata.max_chunk_bytes')"
        )


@dataclass(frozen=True)
class ChunkKeyEncoding:
    """How chunk grid coordinates become store keys (relative to the array's path).

    ``default``: ``c/0/1`` (or ``c.0.1`` with separator ``"."``), ``c`` for 0-d arrays.
    ``v2``: ``0.1`` (or ``0/1``), ``0`` for 0-d arrays.
    """

    name: Literal["default", "v2"] = "default"
    separator: Literal["/", "."] = "/"

    def encode(self, coords: Sequence[int]) -> str:
        """The chunk key of grid coordinates ``coords``."""
        if self.name == "default":
            return self.separator.join(["c", *map(str, coords)])
        return self.separator.join(map(str, coords)) if coords else "0"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object."""
        return {"name": self.name, "configuration": {"separator": self.separator}}

    @classmethod
    def from_dict(cls, value: Any, *, key: str | None = None) -> ChunkKeyEncoding:
        """Parse a ``chunk_key_encoding`` object (``separator`` defaults per encoding).

        Raises
        ------
        InvalidMetadataError, UnsupportedError
            Malformed object, or an encoding other than ``default`` / ``v2``.
        """
        where = _where(key, "chunk_key_encoding")
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
            raise InvalidMetadataError(f"{where}: must be an object with a string 'name'")
        name = value["name"]
        if name not in ("default", "v2"):
            raise UnsupportedError(f"{where}: unsupported chunk key encoding {name!r}")
        config = value.get("configuration") or {}
        if not isinstance(config, Mapping):
            raise InvalidMetadataError(f"{where}: configuration must be an object")
        separator = config.get("separator", "/" if name == "default" else ".")
        if separator not in ("/", "."):
            raise InvalidMetadataError(f"{where}: separator must be '/' or '.', got {separator!r}")
        return cls(name, separator)


@dataclass(frozen=True, eq=False)
class ArrayMetadataV3:
    """Metadata of a Zarr v3 array.

    Attributes
    ----------
    shape
        Array shape.
    dtype
        Native numpy dtype (``StringDType()`` for strings).
    chunks
        The regular chunk grid's chunk shape (the shard shape if sharded).
    fill_value
        A scalar of ``dtype`` (``str`` for strings).
    codecs
        Validated codec pipeline, array->array codecs first.
    chunk_key_encoding
        Key scheme for chunk keys.
    attributes
        Deep-frozen user attributes (:func:`~cloudzarr.metadata.frozen.thaw` for a plain dict).
    dimension_names
        One name (or ``None``) per dimension, or ``None`` when absent from the document.
    storage_transformers
        Deep-frozen list; only an empty list is supported.
    extra_fields
        Unknown top-level fields marked ``must_understand: false``, re-emitted unchanged.
    """

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    chunks: tuple[int, ...]
    fill_value: Any
    codecs: tuple[CodecSpec, ...]
    chunk_key_encoding: ChunkKeyEncoding = field(default_factory=ChunkKeyEncoding)
    attributes: Mapping[str, Any] = field(default_factory=FrozenDict)
    dimension_names: tuple[str | None, ...] | None = None
    storage_transformers: tuple[Any, ...] = ()
    extra_fields: Mapping[str, Any] = field(default_factory=FrozenDict)
    zarr_format: Literal[3] = field(default=3, init=False)
    node_type: Literal["array"] = field(default="array", init=False)

    def __post_init__(self) -> None:
        # Normalise and validate programmatic construction too: the dataclass is the boundary
        # for build_array_metadata as much as from_dict is for documents.
        set_ = object.__setattr__
        set_(self, "shape", parse_shape(self.shape, "shape"))
        set_(self, "chunks", parse_shape(self.chunks, "chunk_grid.chunk_shape", positive=True))
        if len(self.chunks) != len(self.shape):
            raise InvalidMetadataError(
                f"chunk_grid.chunk_shape: {list(self.chunks)} has {len(self.chunks)} dimensions, "
                f"shape {list(self.shape)} has {len(self.shape)}"
            )
        set_(self, "dtype", parse_v3_data_type(v3_data_type_name(normalize_dtype(self.dtype))))
        check_chunk_bytes(self.chunks, self.dtype, "chunk_grid.chunk_shape")
        set_(self, "fill_value", normalize_fill_value(self.fill_value, self.dtype))
        set_(
            self,
            "codecs",
            parse_v3_codecs(list(self.codecs), dtype=self.dtype, ndim=len(self.shape)),
        )
        _check_shard_shape(self.codecs, self.chunks, "codecs")
        check_json_value(self.attributes, "attributes")
        set_(self, "attributes", deep_freeze(dict(self.attributes)))
        if self.dimension_names is not None:
            names = tuple(self.dimension_names)
            if len(names) != len(self.shape) or not all(
                n is None or isinstance(n, str) for n in names
            ):
                raise InvalidMetadataError(
                    f"dimension_names: must be {len(self.shape)} strings or nulls, got {names!r}"
                )
            set_(self, "dimension_names", names)
        set_(self, "storage_transformers", deep_freeze(list(self.storage_transformers)))
        if self.storage_transformers:
            raise UnsupportedError("storage_transformers: storage transformers are not supported")
        set_(self, "extra_fields", deep_freeze(dict(self.extra_fields)))

    # --- derived ---------------------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def data_type(self) -> str | dict[str, Any]:
        """The v3 ``data_type``: a name, or an object for parameterised types."""
        return v3_data_type_name(self.dtype)

    @property
    def sharding(self) -> CodecSpec | None:
        """The ``sharding_indexed`` codec when the array is sharded, else ``None``."""
        for codec in self.codecs:
            if codec.name == "sharding_indexed":
                return codec
        return None

    def chunk_key(self, coords: Sequence[int]) -> str:
        """Store key of the chunk at grid ``coords``, relative to the array's path."""
        return self.chunk_key_encoding.encode(coords)

    # --- copies ----------------------------------------------------------------------------

    def with_attributes(self, attributes: Mapping[str, Any]) -> ArrayMetadataV3:
        """A copy with ``attributes`` replaced."""
        return replace(self, attributes=attributes)

    def with_shape(self, shape: Sequence[int]) -> ArrayMetadataV3:
        """A copy with ``shape`` replaced (same number of dimensions)."""
        if len(shape) != self.ndim:
            raise InvalidMetadataError(
                f"shape: cannot change the number of dimensions from {self.ndim} to {len(shape)}"
            )
        return replace(self, shape=tuple(shape))

    # --- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The ``zarr.json`` document as a JSON-ready dict (key order as zarr-python writes)."""
        doc: dict[str, Any] = {
            "shape": list(self.shape),
            "data_type": self.data_type,
            "chunk_grid": {
                "name": "regular",
                "configuration": {"chunk_shape": list(self.chunks)},
            },
            "chunk_key_encoding": self.chunk_key_encoding.to_dict(),
            "fill_value": encode_fill_value_v3(self.fill_value, self.dtype),
            "codecs": codecs_to_json(self.codecs),
            "attributes": thaw(self.attributes),
        }
        if self.dimension_names is not None:
            doc["dimension_names"] = list(self.dimension_names)
        doc["zarr_format"] = 3
        doc["node_type"] = "array"
        doc["storage_transformers"] = thaw(self.storage_transformers)
        doc.update(thaw(self.extra_fields))
        return doc

    def to_documents(self) -> dict[str, bytes]:
        """``{"zarr.json": bytes}``."""
        return {ZARR_JSON: dump_document(self.to_dict())}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, key: str | None = None) -> ArrayMetadataV3:
        """Parse and validate a ``zarr.json`` array document.

        Parameters
        ----------
        doc
            The parsed JSON object.
        key
            The document's store key (``"path/zarr.json"``), named in every error.

        Raises
        ------
        InvalidMetadataError
            Missing or malformed field.
        UnsupportedDataTypeError, UnsupportedCodecError
            Unknown data type or codec, or an unknown extension with ``must_understand: true``.
        UnsupportedFormatError
            ``zarr_format`` is not 3 or ``node_type`` is not ``"array"``.
        """
        key = key or ZARR_JSON
        if not isinstance(doc, Mapping):
            raise InvalidMetadataError(f"{key}: metadata document must be a JSON object")
        if doc.get("zarr_format") != 3:
            raise UnsupportedFormatError(
                f"{key}: zarr_format: expected 3, got {doc.get('zarr_format')!r}"
            )
        if doc.get("node_type") != "array":
            raise UnsupportedFormatError(
                f"{key}: node_type: expected 'array', got {doc.get('node_type')!r}"
            )
        for required in (
            "shape",
            "data_type",
            "chunk_grid",
            "chunk_key_encoding",
            "fill_value",
            "codecs",
        ):
            if required not in doc:
                raise InvalidMetadataError(f"{key}: missing required field {required!r}")
        extra: dict[str, Any] = {}
        for name, value in doc.items():
            if name in _KNOWN_FIELDS:
                continue
            if isinstance(value, Mapping) and value.get("must_understand") is False:
                extra[name] = value
                continue
            raise UnsupportedCodecError(
                f"{key}: {name}: unknown extension field (must_understand is not false)"
            )
        shape = parse_shape(doc["shape"], _where(key, "shape"))
        dtype = parse_v3_data_type(doc["data_type"], key=key)
        chunks = _parse_chunk_grid(doc["chunk_grid"], key, len(shape))
        check_chunk_bytes(chunks, dtype, _where(key, "chunk_grid.configuration.chunk_shape"))
        fill_value = parse_fill_value_v3(doc["fill_value"], dtype, key=key)
        codecs = parse_v3_codecs(
            doc["codecs"], dtype=dtype, ndim=len(shape), where=_where(key, "codecs")
        )
        _check_shard_shape(codecs, chunks, _where(key, "codecs"))
        attributes = doc.get("attributes", {})
        if attributes is None:
            attributes = {}
        if not isinstance(attributes, Mapping):
            raise InvalidMetadataError(f"{key}: attributes: must be an object")
        dim_names = doc.get("dimension_names")
        if dim_names is not None and (
            not isinstance(dim_names, list)
            or len(dim_names) != len(shape)
            or not all(n is None or isinstance(n, str) for n in dim_names)
        ):
            raise InvalidMetadataError(
                f"{key}: dimension_names: must be {len(shape)} strings or nulls, got {dim_names!r}"
            )
        transformers = doc.get("storage_transformers", [])
        if not isinstance(transformers, list):
            raise InvalidMetadataError(f"{key}: storage_transformers: must be a list")
        if transformers:
            raise UnsupportedError(f"{key}: storage_transformers: not supported: {transformers!r}")
        # Everything is validated above: build without re-running __post_init__'s checks,
        # which would double the cost of parsing large consolidated hierarchies.
        return _trusted(
            cls,
            shape=shape,
            dtype=dtype,
            chunks=chunks,
            fill_value=fill_value,
            codecs=codecs,
            chunk_key_encoding=ChunkKeyEncoding.from_dict(doc["chunk_key_encoding"], key=key),
            attributes=deep_freeze(attributes),
            dimension_names=None if dim_names is None else tuple(dim_names),
            storage_transformers=(),
            extra_fields=deep_freeze(extra),
            zarr_format=3,
            node_type="array",
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArrayMetadataV3):
            return NotImplemented
        return (
            self.shape == other.shape
            and self.dtype == other.dtype
            and self.chunks == other.chunks
            and fill_values_equal(self.fill_value, other.fill_value)
            and self.codecs == other.codecs
            and self.chunk_key_encoding == other.chunk_key_encoding
            and self.attributes == other.attributes
            and self.dimension_names == other.dimension_names
            and self.storage_transformers == other.storage_transformers
            and self.extra_fields == other.extra_fields
        )

    def __hash__(self) -> int:
        return hash((self.shape, str(self.dtype), self.chunks, self.codecs))


def _check_shard_shape(codecs: tuple[CodecSpec, ...], chunks: tuple[int, ...], where: str) -> None:
    """A shard (the grid's chunk) must hold a whole number of inner chunks in every dimension,
    and so must a nested shard (checked here so a bad nested layout is refused before anything
    is written, not when the first chunk is coded)."""
    for codec in codecs:
        if codec.name == "transpose":
            # The codecs after a transpose see the chunk with its axes permuted.
            order = codec.configuration.get("order")
            if isinstance(order, list | tuple) and sorted(order) == list(range(len(chunks))):
                chunks = tuple(chunks[i] for i in order)
        elif codec.name == "sharding_indexed":
            inner = tuple(codec.configuration["chunk_shape"])
            if any(c % i for c, i in zip(chunks, inner, strict=True)):
                raise InvalidMetadataError(
                    f"{where}: sharding_indexed chunk_shape {list(inner)} does not divide the "
                    f"shard shape {list(chunks)}"
                )
            _check_shard_shape(tuple(codec.configuration["codecs"]), inner, where)


def _trusted[T](cls: type[T], **fields: Any) -> T:
    """Build a frozen dataclass from already-validated fields, skipping ``__post_init__``."""
    obj = object.__new__(cls)
    for name, value in fields.items():
        object.__setattr__(obj, name, value)
    return obj


def _parse_chunk_grid(value: Any, key: str, ndim: int) -> tuple[int, ...]:
    where = _where(key, "chunk_grid")
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise InvalidMetadataError(f"{where}: must be an object with a string 'name'")
    if value["name"] != "regular":
        raise UnsupportedError(f"{where}: unsupported chunk grid {value['name']!r}")
    config = value.get("configuration")
    if not isinstance(config, Mapping) or "chunk_shape" not in config:
        raise InvalidMetadataError(f"{where}: configuration.chunk_shape is required")
    chunks = parse_shape(config["chunk_shape"], f"{where}.configuration.chunk_shape", positive=True)
    if len(chunks) != ndim:
        raise InvalidMetadataError(
            f"{where}.configuration.chunk_shape: has {len(chunks)} dimensions, shape has {ndim}"
        )
    return chunks
