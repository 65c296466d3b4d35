"""Zarr v2 array metadata (``.zarray`` plus optional ``.zattrs``).

:class:`ArrayMetadataV2` is a frozen dataclass validated at the boundary. ``compressor`` and
``filters`` are numcodecs configurations (deep-frozen dicts with an ``id``); ``dtype`` keeps the
document's byte order; ``fill_value`` is ``None`` when the document says ``null``
(:attr:`ArrayMetadataV2.effective_fill_value` gives the value missing chunks read as).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from cloudzarr.errors import InvalidMetadataError, UnsupportedFormatError
from cloudzarr.metadata.array_v3 import _trusted, check_chunk_bytes, parse_shape
from cloudzarr.metadata.codec_specs import check_numcodecs_config
from cloudzarr.metadata.dtypes import (
    is_string_dtype,
    normalize_dtype,
    parse_v2_dtype,
    v2_dtype_string,
)
from cloudzarr.metadata.fill_value import (
    canonical_nans,
    default_fill_value,
    encode_fill_value_v2,
    fill_values_equal,
    normalize_fill_value,
    parse_fill_value_v2,
)
from cloudzarr.metadata.frozen import FrozenDict, deep_freeze, thaw
from cloudzarr.metadata.jsonio import check_json_value, dump_document

__all__ = ["ArrayMetadataV2"]

ZARRAY = ".zarray"
ZATTRS = ".zattrs"

_KNOWN_FIELDS = {
    "zarr_format",
    "shape",
    "chunks",
    "dtype",
    "compressor",
    "fill_value",
    "order",
    "filters",
    "dimension_separator",
}


def _where(key: str | None, fld: str) -> str:
    return f"{key}: {fld}" if key else fld


def _check_codec_config(value: Any, where: str, *, compressor: bool) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
        raise InvalidMetadataError(f"{where}: must be a numcodecs config object with an 'id'")
    # Built (and a compressor tried on a few bytes) now, so a bad parameter fails at open with
    # the field named, not at the first write with whatever numcodecs raises.
    check_numcodecs_config(thaw(value), where, compressor=compressor)
    return deep_freeze(dict(value))


@dataclass(frozen=True, eq=False)
class ArrayMetadataV2:
    """Metadata of a Zarr v2 array.

    Attributes
    ----------
    shape, chunks
        Array and chunk shapes.
    dtype
        numpy dtype with the document's byte order (``StringDType()`` for ``"|O"`` +
        ``vlen-utf8``).
    fill_value
        A scalar of ``dtype``, or ``None`` for ``null``.
    order
        ``"C"`` or ``"F"``: memory layout of each chunk's bytes.
    compressor
        numcodecs config (``{"id": "zstd", "level": 0}``) or ``None``.
    filters
        Tuple of numcodecs configs, or ``None``.
    dimension_separator
        ``"."`` (default) or ``"/"``.
    attributes
        Deep-frozen ``.zattrs`` content.
    dimension_names
        Always ``None`` (v2 has none; the field exists so both classes share an interface).
    """

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    chunks: tuple[int, ...]
    fill_value: Any = None
    order: Literal["C", "F"] = "C"
    compressor: Mapping[str, Any] | None = None
    filters: tuple[Mapping[str, Any], ...] | None = None
    dimension_separator: Literal[".", "/"] = "."
    attributes: Mapping[str, Any] = field(default_factory=FrozenDict)
    zarr_format: Literal[2] = field(default=2, init=False)
    node_type: Literal["array"] = field(default="array", init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "shape", parse_shape(self.shape, "shape"))
        set_(self, "chunks", parse_shape(self.chunks, "chunks", positive=True))
        if len(self.chunks) != len(self.shape):
            raise InvalidMetadataError(
                f"chunks: {list(self.chunks)} has {len(self.chunks)} dimensions, "
                f"shape {list(self.shape)} has {len(self.shape)}"
            )
        if self.filters is not None:
            set_(
                self,
                "filters",
                tuple(
                    _check_codec_config(f, f"filters[{i}]", compressor=False)
                    for i, f in enumerate(self.filters)
                ),
            )
            if not self.filters:
                set_(self, "filters", None)
        if self.compressor is not None:
            set_(
                self,
                "compressor",
                _check_codec_config(self.compressor, "compressor", compressor=True),
            )
        set_(
            self,
            "dtype",
            parse_v2_dtype(
                v2_dtype_string(normalize_dtype(self.dtype)), filters=self.filters or ()
            ),
        )
        check_chunk_bytes(self.chunks, self.dtype, "chunks")
        if self.fill_value is not None:
            fill = normalize_fill_value(self.fill_value, self.dtype)
            set_(self, "fill_value", canonical_nans(fill, self.dtype))
        if self.order not in ("C", "F"):
            raise InvalidMetadataError(f"order: must be 'C' or 'F', got {self.order!r}")
        if self.dimension_separator not in (".", "/"):
            raise InvalidMetadataError(
                f"dimension_separator: must be '.' or '/', got {self.dimension_separator!r}"
            )
        check_json_value(self.attributes, "attributes")
        set_(self, "attributes", deep_freeze(dict(self.attributes)))

    # --- derived ---------------------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def dimension_names(self) -> None:
        """Zarr v2 has no dimension names."""
        return None

    @property
    def effective_fill_value(self) -> Any:
        """The value missing chunks read as: ``fill_value``, or the dtype's zero for ``null``."""
        return default_fill_value(self.dtype) if self.fill_value is None else self.fill_value

    def chunk_key(self, coords: Sequence[int]) -> str:
        """Store key of the chunk at grid ``coords``, relative to the array's path (``"0"`` for
        0-d arrays)."""
        return self.dimension_separator.join(map(str, coords)) if coords else "0"

    # --- copies ----------------------------------------------------------------------------

    def with_attributes(self, attributes: Mapping[str, Any]) -> ArrayMetadataV2:
        """A copy with ``attributes`` replaced."""
        return replace(self, attributes=attributes)

    def with_shape(self, shape: Sequence[int]) -> ArrayMetadataV2:
        """A copy with ``shape`` replaced (same number of dimensions)."""
        if len(shape) != self.ndim:
            raise InvalidMetadataError(
                f"shape: cannot change the number of dimensions from {self.ndim} to {len(shape)}"
            )
        return replace(self, shape=tuple(shape))

    # --- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The ``.zarray`` document (attributes are not part of it; see :meth:`to_documents`)."""
        return {
            "shape": list(self.shape),
            "chunks": list(self.chunks),
            "dtype": v2_dtype_string(self.dtype),
            "fill_value": encode_fill_value_v2(self.fill_value, self.dtype),
            "order": self.order,
            "filters": None if self.filters is None else [thaw(f) for f in self.filters],
            "dimension_separator": self.dimension_separator,
            "compressor": thaw(self.compressor),
            "zarr_format": 2,
        }

    def to_documents(self) -> dict[str, bytes]:
        """``{".zarray": bytes}`` plus ``".zattrs"`` when attributes are non-empty."""
        docs = {ZARRAY: dump_document(self.to_dict())}
        if self.attributes:
            docs[ZATTRS] = dump_document(thaw(self.attributes))
        return docs

    @classmethod
    def from_dict(
        cls,
        doc: Mapping[str, Any],
        *,
        attributes: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> ArrayMetadataV2:
        """Parse and validate a ``.zarray`` document (plus the ``.zattrs`` content, if any).

        Parameters
        ----------
        doc
            The parsed ``.zarray`` object.
        attributes
            The parsed ``.zattrs`` object, or ``None``.
        key
            The document's store key (``"path/.zarray"``), named in every error.

        Raises
        ------
        InvalidMetadataError
            Missing or malformed field.
        UnsupportedDataTypeError
            Unknown dtype, or an object dtype without a ``vlen-utf8`` filter.
        UnsupportedFormatError
            ``zarr_format`` is not 2.
        """
        key = key or ZARRAY
        if not isinstance(doc, Mapping):
            raise InvalidMetadataError(f"{key}: metadata document must be a JSON object")
        if doc.get("zarr_format") != 2:
            raise UnsupportedFormatError(
                f"{key}: zarr_format: expected 2, got {doc.get('zarr_format')!r}"
            )
        for required in (
            "shape",
            "chunks",
            "dtype",
            "compressor",
            "fill_value",
            "order",
            "filters",
        ):
            if required not in doc:
                raise InvalidMetadataError(f"{key}: missing required field {required!r}")
        unknown = set(doc) - _KNOWN_FIELDS
        if unknown:
            raise InvalidMetadataError(f"{key}: unknown field(s) {sorted(unknown)}")
        shape = parse_shape(doc["shape"], _where(key, "shape"))
        chunks = parse_shape(doc["chunks"], _where(key, "chunks"), positive=True)
        if len(chunks) != len(shape):
            raise InvalidMetadataError(
                f"{key}: chunks: {list(chunks)} has {len(chunks)} dimensions, "
                f"shape has {len(shape)}"
            )
        raw_filters = doc["filters"]
        if raw_filters is not None and not isinstance(raw_filters, list):
            raise InvalidMetadataError(f"{key}: filters: must be a list or null")
        filters = (
            None
            if not raw_filters
            else tuple(
                _check_codec_config(f, f"{key}: filters[{i}]", compressor=False)
                for i, f in enumerate(raw_filters)
            )
        )
        compressor = doc["compressor"]
        if compressor is not None:
            compressor = _check_codec_config(compressor, _where(key, "compressor"), compressor=True)
        dtype = parse_v2_dtype(doc["dtype"], filters=filters or (), key=key)
        check_chunk_bytes(chunks, dtype, _where(key, "chunks"))
        fill_value = parse_fill_value_v2(doc["fill_value"], dtype, key=key)
        order = doc["order"]
        if order not in ("C", "F"):
            raise InvalidMetadataError(f"{key}: order: must be 'C' or 'F', got {order!r}")
        separator = doc.get("dimension_separator", ".")
        if separator is None:
            separator = "."
        if separator not in (".", "/"):
            raise InvalidMetadataError(
                f"{key}: dimension_separator: must be '.' or '/', got {separator!r}"
            )
        if attributes is not None and not isinstance(attributes, Mapping):
            raise InvalidMetadataError(f"{key}: .zattrs must be a JSON object")
        return _trusted(
            cls,
            shape=shape,
            dtype=dtype,
            chunks=chunks,
            fill_value=fill_value,
            order=order,
            compressor=compressor,
            filters=filters,
            dimension_separator=separator,
            attributes=deep_freeze(dict(attributes or {})),
            zarr_format=2,
            node_type="array",
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArrayMetadataV2):
            return NotImplemented
        return (
            self.shape == other.shape
            and self.dtype == other.dtype
            and self.chunks == other.chunks
            and fill_values_equal(self.fill_value, other.fill_value)
            and self.order == other.order
            and self.compressor == other.compressor
            and self.filters == other.filters
            and self.dimension_separator == other.dimension_separator
            and self.attributes == other.attributes
        )

    def __hash__(self) -> int:
        return hash((self.shape, str(self.dtype), self.chunks, self.order))


def is_vlen_string(metadata: ArrayMetadataV2) -> bool:
    """Whether the array stores variable-length strings (``"|O"`` + ``vlen-utf8``)."""
    return is_string_dtype(metadata.dtype)
