"""Validated, frozen descriptions of Zarr v3 codecs (the ``codecs`` field of an array's zarr.json).

A :class:`CodecSpec` is a codec's ``name`` and its normalised, deep-frozen ``configuration``;
:func:`parse_v3_codecs` validates a JSON list of codec objects against the array's dtype and
dimensionality and fills in defaults, so two documents that mean the same pipeline compare equal.
The executable codecs live in :mod:`cloudzarr.codecs`; this module only describes them, so
metadata never imports codec machinery.

Known codecs and their kinds:

=====================  ==============  ==============================================
name                   kind            configuration
=====================  ==============  ==============================================
``transpose``          array->array    ``order``: a permutation of ``range(ndim)``
``bytes``              array->bytes    ``endian``: ``"little"``/``"big"`` (omitted for
                                       1-byte types)
``vlen-utf8``          array->bytes    none (string arrays only)
``sharding_indexed``   array->bytes    ``chunk_shape``, ``codecs``, ``index_codecs``,
                                       ``index_location`` (``"end"`` default); nested
                                       codec lists are tuples of :class:`CodecSpec`
``gzip``               bytes->bytes    ``level`` 0..9
``zstd``               bytes->bytes    ``level`` (int), ``checksum`` (bool)
``blosc``              bytes->bytes    ``cname``, ``clevel``, ``shuffle``
                                       (``noshuffle``/``shuffle``/``bitshuffle``),
                                       ``typesize``, ``blocksize``
``crc32c``             bytes->bytes    none
``numcodecs.<id>``     by numcodecs    the numcodecs config without ``id`` (what
                                       zarr-python writes for wrapped numcodecs codecs;
                                       array->array for filters like ``delta``, else
                                       bytes->bytes)
=====================  ==============  ==============================================

Anything else raises :class:`~cloudzarr.errors.UnsupportedCodecError` naming the codec, the
document key and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from cloudzarr.errors import InvalidMetadataError, UnsupportedCodecError
from cloudzarr.metadata.dtypes import has_byte_order, is_string_dtype, is_vlen_bytes_dtype
from cloudzarr.metadata.frozen import FrozenDict, deep_freeze, thaw
from cloudzarr.metadata.jsonio import check_json_value

__all__ = [
    "BLOSC_CNAMES",
    "BLOSC_SHUFFLES",
    "CodecKind",
    "CodecSpec",
    "blosc_cnames",
    "check_numcodecs_config",
    "codec_kind",
    "codecs_to_json",
    "parse_codec",
    "parse_v3_codecs",
]

CodecKind = Literal["array_array", "array_bytes", "bytes_bytes"]

BLOSC_CNAMES = ("lz4", "lz4hc", "blosclz", "zstd", "snappy", "zlib")
BLOSC_SHUFFLES = ("noshuffle", "shuffle", "bitshuffle")

# zarr-python writes an empty configuration for these (and every numcodecs.* codec, whose
# configuration it requires); matching keeps documents identical.
_ALWAYS_CONFIGURED = {"vlen-utf8", "vlen-bytes"}

_KINDS: dict[str, CodecKind] = {
    "transpose": "array_array",
    "bytes": "array_bytes",
    "vlen-utf8": "array_bytes",
    "vlen-bytes": "array_bytes",
    "sharding_indexed": "array_bytes",
    "gzip": "bytes_bytes",
    "zstd": "bytes_bytes",
    "blosc": "bytes_bytes",
    "crc32c": "bytes_bytes",
}

# numcodecs codecs that work on arrays (filters) rather than on bytes.
_NUMCODECS_ARRAY_FILTERS = {
    "delta",
    "fixedscaleoffset",
    "quantize",
    "packbits",
    "astype",
    "bitround",
    "categorize",
}


@dataclass(frozen=True)
class CodecSpec:
    """One v3 codec: its ``name`` and normalised, deep-frozen ``configuration``."""

    name: str
    configuration: Mapping[str, Any] = field(default_factory=FrozenDict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "configuration", deep_freeze(self.configuration))

    @property
    def kind(self) -> CodecKind:
        """``"array_array"``, ``"array_bytes"`` or ``"bytes_bytes"``."""
        return codec_kind(self.name)

    def to_dict(self) -> dict[str, Any]:
        """The codec's JSON object (``configuration`` omitted when empty, as zarr-python does
        for ``crc32c`` and 1-byte ``bytes``)."""
        out: dict[str, Any] = {"name": self.name}
        if (
            self.configuration
            or self.name in _ALWAYS_CONFIGURED
            or self.name.startswith("numcodecs.")
        ):
            out["configuration"] = {k: _thaw_config(v) for k, v in self.configuration.items()}
        return out


def _thaw_config(value: Any) -> Any:
    if isinstance(value, CodecSpec):
        return value.to_dict()
    if isinstance(value, tuple) and value and all(isinstance(v, CodecSpec) for v in value):
        return [v.to_dict() for v in value]
    return thaw(value)


def codec_kind(name: str) -> CodecKind:
    """The kind of a codec by name (``numcodecs.*`` filters are array->array)."""
    if name in _KINDS:
        return _KINDS[name]
    if name.startswith("numcodecs."):
        return "array_array" if name[10:] in _NUMCODECS_ARRAY_FILTERS else "bytes_bytes"
    raise UnsupportedCodecError(f"unknown codec {name!r}")


def codecs_to_json(codecs: tuple[CodecSpec, ...]) -> list[dict[str, Any]]:
    """The JSON list of a codec tuple."""
    return [c.to_dict() for c in codecs]


#: Codec parameters are C ints in every codec library: a larger value fails at encode time
#: (``OverflowError``), so it is refused when the metadata is read.
_C_INT_MIN, _C_INT_MAX = -(2**31), 2**31 - 1

#: Most nested ``sharding_indexed`` codecs (a shard of shards of ...) a pipeline may have.
MAX_CODEC_DEPTH = 16


def _int(config: Mapping[str, Any], name: str, where: str, default: Any = None) -> int:
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidMetadataError(
            f"{where}: configuration.{name} must be an integer, got {value!r}"
        )
    if not _C_INT_MIN <= value <= _C_INT_MAX:
        raise InvalidMetadataError(
            f"{where}: configuration.{name} {value} is out of range (a 32-bit integer)"
        )
    return value


def blosc_cnames() -> tuple[str, ...]:
    """The Blosc compressors this installation can run (numcodecs' build may lack snappy)."""
    global _AVAILABLE_CNAMES
    if _AVAILABLE_CNAMES is None:
        from numcodecs import blosc

        _AVAILABLE_CNAMES = tuple(c for c in BLOSC_CNAMES if c in blosc.list_compressors())
    return _AVAILABLE_CNAMES


_AVAILABLE_CNAMES: tuple[str, ...] | None = None


def _check_keys(config: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = set(config) - allowed
    if extra:
        raise InvalidMetadataError(f"{where}: unknown configuration field(s) {sorted(extra)}")


def parse_codec(
    value: Any,
    *,
    dtype: np.dtype[Any],
    ndim: int,
    where: str,
    depth: int = 0,
) -> CodecSpec:
    """Validate one codec JSON object (or :class:`CodecSpec`) and normalise its configuration.

    ``where`` names the document and field for errors (``"a/zarr.json: codecs[1]"``);
    ``depth`` counts the sharding codecs this one is nested in.
    """
    if isinstance(value, CodecSpec):
        value = value.to_dict()
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise InvalidMetadataError(f"{where}: a codec must be an object with a string 'name'")
    extra = set(value) - {"name", "configuration", "must_understand"}
    if extra:
        raise InvalidMetadataError(f"{where}: unknown codec field(s) {sorted(extra)}")
    name: str = value["name"]
    config = value.get("configuration", {})
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise InvalidMetadataError(f"{where}: configuration of codec {name!r} must be an object")
    where = f"{where} ({name})"
    if name == "bytes":
        _check_keys(config, {"endian"}, where)
        endian = config.get("endian")
        if has_byte_order(dtype) and endian is None:
            raise InvalidMetadataError(f"{where}: configuration.endian is required for {dtype}")
        if endian is not None and endian not in ("little", "big"):
            raise InvalidMetadataError(f"{where}: configuration.endian must be 'little' or 'big'")
        if is_string_dtype(dtype):
            raise UnsupportedCodecError(f"{where}: the bytes codec cannot encode strings")
        if not has_byte_order(dtype):
            return CodecSpec(name)
        return CodecSpec(name, {"endian": endian})
    if name == "transpose":
        _check_keys(config, {"order"}, where)
        order = config.get("order")
        if isinstance(order, str):
            # Early drafts allowed "C"/"F"; zarr-python 3 reads them.
            order = list(range(ndim)) if order == "C" else list(range(ndim))[::-1]
        if not isinstance(order, list | tuple) or sorted(order) != list(range(ndim)):
            raise InvalidMetadataError(
                f"{where}: configuration.order must be a permutation of range({ndim}), "
                f"got {order!r}"
            )
        return CodecSpec(name, {"order": tuple(int(i) for i in order)})
    if name == "gzip":
        _check_keys(config, {"level"}, where)
        level = _int(config, "level", where, 5)
        if not 0 <= level <= 9:
            raise InvalidMetadataError(f"{where}: configuration.level must be in 0..9")
        return CodecSpec(name, {"level": level})
    if name == "zstd":
        _check_keys(config, {"level", "checksum"}, where)
        level = _int(config, "level", where, 0)
        checksum = config.get("checksum", False)
        if not isinstance(checksum, bool):
            raise InvalidMetadataError(f"{where}: configuration.checksum must be a boolean")
        return CodecSpec(name, {"level": level, "checksum": checksum})
    if name == "blosc":
        _check_keys(config, {"cname", "clevel", "shuffle", "typesize", "blocksize"}, where)
        cname = config.get("cname", "zstd")
        if cname not in BLOSC_CNAMES:
            raise InvalidMetadataError(
                f"{where}: configuration.cname must be one of {BLOSC_CNAMES}, got {cname!r}"
            )
        if cname not in blosc_cnames():
            raise UnsupportedCodecError(
                f"{where}: configuration.cname {cname!r} is not built into this installation's "
                f"Blosc (it has {blosc_cnames()})"
            )
        clevel = _int(config, "clevel", where, 5)
        if not 0 <= clevel <= 9:
            raise InvalidMetadataError(f"{where}: configuration.clevel must be in 0..9")
        itemsize = 1 if is_string_dtype(dtype) else dtype.itemsize
        shuffle = config.get("shuffle", "shuffle" if itemsize > 1 else "bitshuffle")
        if shuffle not in BLOSC_SHUFFLES:
            raise InvalidMetadataError(
                f"{where}: configuration.shuffle must be one of {BLOSC_SHUFFLES}"
            )
        typesize = _int(config, "typesize", where, itemsize)
        blocksize = _int(config, "blocksize", where, 0)
        if typesize < 1 or blocksize < 0:
            raise InvalidMetadataError(f"{where}: typesize must be >= 1 and blocksize >= 0")
        return CodecSpec(
            name,
            {
                "typesize": typesize,
                "cname": cname,
                "clevel": clevel,
                "shuffle": shuffle,
                "blocksize": blocksize,
            },
        )
    if name == "crc32c":
        _check_keys(config, set(), where)
        return CodecSpec(name)
    if name == "vlen-bytes":
        _check_keys(config, set(), where)
        if not is_vlen_bytes_dtype(dtype):
            raise InvalidMetadataError(
                f"{where}: vlen-bytes needs the variable_length_bytes data type, not {dtype}"
            )
        return CodecSpec(name)
    if name == "vlen-utf8":
        _check_keys(config, set(), where)
        if not is_string_dtype(dtype) or is_vlen_bytes_dtype(dtype):
            raise InvalidMetadataError(f"{where}: vlen-utf8 needs a string data type, not {dtype}")
        return CodecSpec(name)
    if name == "sharding_indexed":
        if depth >= MAX_CODEC_DEPTH:
            raise InvalidMetadataError(
                f"{where}: sharding codecs nested more than {MAX_CODEC_DEPTH} deep"
            )
        return _parse_sharding(config, dtype=dtype, ndim=ndim, where=where, depth=depth + 1)
    if name.startswith("numcodecs."):
        return _parse_numcodecs(name, config, where)
    raise UnsupportedCodecError(f"{where}: unknown codec {name!r}")


def _parse_numcodecs(name: str, config: Mapping[str, Any], where: str) -> CodecSpec:
    codec_id = name[len("numcodecs.") :]
    check_numcodecs_config(
        {"id": codec_id, **thaw(config)}, where, compressor=codec_kind(name) == "bytes_bytes"
    )
    return CodecSpec(name, config)


_CHECKED_NUMCODECS: dict[str, None] = {}


def check_numcodecs_config(config: Mapping[str, Any], where: str, *, compressor: bool) -> None:
    """Check that numcodecs can build the codec of ``config`` and, for a compressor, that it
    encodes and decodes a few bytes: numcodecs accepts many bad parameters at construction
    (a Blosc ``cname`` it lacks, a zlib level of 12) and fails only at the first write.

    Raises
    ------
    UnsupportedCodecError
        numcodecs has no codec of that id.
    InvalidMetadataError
        The configuration is refused, naming ``where``.
    """
    import numcodecs

    memo = repr(sorted(config.items(), key=lambda kv: str(kv[0]))) + repr(compressor)
    if memo in _CHECKED_NUMCODECS:
        return
    codec_id = config.get("id")
    try:
        codec = numcodecs.get_codec(dict(config))
    except Exception as exc:  # numcodecs raises anything from bad parameters
        registry = numcodecs.registry
        if codec_id not in registry.codec_registry and codec_id not in registry.entries:
            raise UnsupportedCodecError(f"{where}: unknown numcodecs codec {codec_id!r}") from None
        raise InvalidMetadataError(
            f"{where}: invalid {codec_id!r} codec configuration {_short(dict(config))} "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if compressor:
        sample = np.arange(64, dtype=np.uint8)
        try:
            back = codec.decode(codec.encode(sample))
            ok = bytes(memoryview(back).cast("B")) == sample.tobytes()
        except Exception as exc:
            raise InvalidMetadataError(
                f"{where}: {codec_id!r} codec cannot encode with configuration "
                f"{_short(dict(config))} ({type(exc).__name__}: {exc})"
            ) from None
        if not ok:
            raise InvalidMetadataError(f"{where}: {codec_id!r} codec does not round-trip bytes")
    if len(_CHECKED_NUMCODECS) > 1024:
        _CHECKED_NUMCODECS.clear()
    _CHECKED_NUMCODECS[memo] = None


def _parse_sharding(
    config: Mapping[str, Any], *, dtype: np.dtype[Any], ndim: int, where: str, depth: int
) -> CodecSpec:
    _check_keys(config, {"chunk_shape", "codecs", "index_codecs", "index_location"}, where)
    chunk_shape = config.get("chunk_shape")
    if (
        not isinstance(chunk_shape, list | tuple)
        or len(chunk_shape) != ndim
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in chunk_shape)
    ):
        raise InvalidMetadataError(
            f"{where}: configuration.chunk_shape must be {ndim} positive integers, "
            f"got {chunk_shape!r}"
        )
    location = config.get("index_location", "end")
    if location not in ("start", "end"):
        raise InvalidMetadataError(f"{where}: configuration.index_location must be start or end")
    inner = parse_v3_codecs(
        config.get("codecs"),
        dtype=dtype,
        ndim=ndim,
        where=f"{where} configuration.codecs",
        depth=depth,
    )
    # The spec requires index_codecs; documents that leave it out get zarr-python's default
    # (bytes + crc32c), so both libraries read such a shard the same way.
    index_codecs = parse_v3_codecs(
        config.get(
            "index_codecs",
            [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
        ),
        dtype=np.dtype("uint64"),
        ndim=ndim + 1,
        where=f"{where} configuration.index_codecs",
        depth=depth,
    )
    return CodecSpec(
        "sharding_indexed",
        FrozenDict(
            {
                "chunk_shape": tuple(chunk_shape),
                "codecs": inner,
                "index_codecs": index_codecs,
                "index_location": location,
            }
        ),
    )


_PARSE_CACHE: dict[tuple[str, np.dtype[Any], int], tuple[CodecSpec, ...]] = {}
_PARSE_CACHE_SIZE = 1024


def parse_v3_codecs(
    value: Any,
    *,
    dtype: np.dtype[Any],
    ndim: int,
    where: str = "codecs",
    depth: int = 0,
) -> tuple[CodecSpec, ...]:
    """Validate a v3 ``codecs`` list: array->array codecs, exactly one array->bytes codec, then
    bytes->bytes codecs.

    Parameters
    ----------
    value
        The JSON list (or a sequence of :class:`CodecSpec`).
    dtype, ndim
        The array's data type and number of dimensions (``bytes`` needs ``endian`` for multi-byte
        types, ``transpose`` a permutation of ``range(ndim)``...).
    where
        Document key and field for error messages, e.g. ``"a/zarr.json: codecs"``.
    depth
        How many sharding codecs this list is nested in (at most :data:`MAX_CODEC_DEPTH`).

    Raises
    ------
    InvalidMetadataError
        Malformed list or configuration, or codecs in the wrong order.
    UnsupportedCodecError
        An unknown codec, naming it.
    """
    if not isinstance(value, list | tuple) or not value:
        raise InvalidMetadataError(
            f"{where}: must be a non-empty list of codecs, got {_short(value)}"
        )
    # Hierarchies repeat the same few codec lists thousands of times; validate each once.
    cache_key = None
    if not any(isinstance(v, CodecSpec) for v in value):
        if depth == 0:
            # Values users pass have not been through load_document's checks; the repr below
            # and the parsing recurse, so bound the nesting first.
            check_json_value(value, where)
        cache_key = (repr(value), dtype, ndim)
        cached = _PARSE_CACHE.get(cache_key)
        if cached is not None:
            return cached
    specs = tuple(
        parse_codec(item, dtype=dtype, ndim=ndim, where=f"{where}[{i}]", depth=depth)
        for i, item in enumerate(value)
    )
    kinds = [s.kind for s in specs]
    n_array_bytes = kinds.count("array_bytes")
    if n_array_bytes != 1:
        raise InvalidMetadataError(
            f"{where}: needs exactly one array->bytes codec (bytes, vlen-utf8, sharding_indexed), "
            f"got {n_array_bytes}"
        )
    pivot = kinds.index("array_bytes")
    if any(k != "array_array" for k in kinds[:pivot]) or any(
        k != "bytes_bytes" for k in kinds[pivot + 1 :]
    ):
        raise InvalidMetadataError(
            f"{where}: codecs must be array->array, then one array->bytes, then bytes->bytes; "
            f"got {[s.name for s in specs]}"
        )
    if cache_key is not None:
        if len(_PARSE_CACHE) >= _PARSE_CACHE_SIZE:
            _PARSE_CACHE.clear()
        _PARSE_CACHE[cache_key] = specs
    return specs


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else f"{text[:150]}... ({len(text)} characters)"
