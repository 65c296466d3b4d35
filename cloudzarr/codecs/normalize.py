"""Turn user-facing ``filters=`` / ``serializer=`` / ``compressors=`` into stored codec metadata.

Accepted for every argument: ``"auto"`` (the default), ``None`` (nothing), one item or a list of
items, where an item is

- a numcodecs codec instance (``numcodecs.Zstd(level=3)``, ``GZip``, ``Blosc``, ``Zlib``...),
- a numcodecs config dict (``{"id": "zlib", "level": 1}``),
- a v3 codec JSON dict (``{"name": "zstd", "configuration": {"level": 3}}``) or a
  :class:`~cloudzarr.metadata.CodecSpec`,
- an object with a ``to_dict()`` giving v3 JSON (zarr-python's own codec classes).

Defaults
--------
- v3: ``bytes`` (little endian; ``vlen-utf8`` for strings) + ``zstd`` level 0, no checksum, as
  zarr-python 3.4.2 writes.
- v2: compressor ``{"id": "zstd", "level": 0}``, the same as ``zarr.create_array`` in zarr-python
  3.4.2 and the same codec as our v3 default, so both formats compress alike. (zarr-python's
  ``Group.create_array`` picks Blosc(lz4) for v2 instead; we keep one default, not two.)
  String arrays get the ``vlen-utf8`` filter, always first.

Mapping between the two vocabularies: numcodecs ``zstd``/``gzip``/``blosc`` become the v3 core
codecs of the same name (Blosc's ``AUTOSHUFFLE`` resolves like zarr-python: ``shuffle`` for
multi-byte types, ``bitshuffle`` for 1-byte ones; ``typesize`` is the item size); other
numcodecs codecs become ``numcodecs.<id>`` (what zarr-python writes for wrapped numcodecs codecs).

A codec may also be named by a string (``compressors="gzip"``, which zarr-python does not
take): in v3 the core codec of that name with the v3 defaults; in v2 the numcodecs codec of that
id (``"zlib"`` or ``"numcodecs.zlib"``) with numcodecs' defaults, so ``"gzip"`` is level 5 in v3
but level 1 in v2, and ``"blosc"`` is zstd in v3 but lz4 in v2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numcodecs
import numpy as np
from numcodecs.abc import Codec as Numcodec

from cloudzarr.errors import InvalidMetadataError, UnsupportedCodecError
from cloudzarr.metadata.codec_specs import BLOSC_SHUFFLES, CodecSpec, parse_v3_codecs
from cloudzarr.metadata.dtypes import has_byte_order, is_string_dtype, is_vlen_bytes_dtype
from cloudzarr.metadata.frozen import FrozenDict, deep_freeze, thaw

__all__ = [
    "DEFAULT_V2_COMPRESSOR",
    "default_v3_compressors",
    "default_v3_serializer",
    "normalize_v2_compressor",
    "normalize_v2_filters",
    "normalize_v3_codecs",
]

DEFAULT_V2_COMPRESSOR: Mapping[str, Any] = FrozenDict({"id": "zstd", "level": 0})
_VLEN_UTF8_V2: Mapping[str, Any] = FrozenDict({"id": "vlen-utf8"})
_V3_CORE_FROM_NUMCODECS = {"zstd", "gzip", "blosc"}


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping | Numcodec | CodecSpec | str) or hasattr(value, "to_dict"):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def _itemsize(dtype: np.dtype[Any]) -> int:
    return 1 if is_string_dtype(dtype) else dtype.itemsize


def default_v3_serializer(dtype: np.dtype[Any]) -> CodecSpec:
    """``vlen-utf8`` for strings, else ``bytes`` (little endian for multi-byte types)."""
    if is_vlen_bytes_dtype(dtype):
        return CodecSpec("vlen-bytes")
    if is_string_dtype(dtype):
        return CodecSpec("vlen-utf8")
    if not has_byte_order(dtype):
        return CodecSpec("bytes")
    return CodecSpec("bytes", {"endian": "little"})


def default_v3_compressors() -> tuple[CodecSpec, ...]:
    """``zstd`` level 0 without checksum."""
    return (CodecSpec("zstd", {"level": 0, "checksum": False}),)


def _numcodec_to_v3(codec: Numcodec, dtype: np.dtype[Any]) -> dict[str, Any]:
    config = dict(codec.get_config())
    codec_id = config.pop("id")
    if codec_id == "zstd":
        return {
            "name": "zstd",
            "configuration": {
                "level": config.get("level", 0),
                "checksum": bool(config.get("checksum", False)),
            },
        }
    if codec_id == "gzip":
        return {"name": "gzip", "configuration": {"level": config.get("level", 1)}}
    if codec_id == "blosc":
        shuffle = config.get("shuffle", 1)
        if shuffle == -1:  # AUTOSHUFFLE
            shuffle = 1 if _itemsize(dtype) > 1 else 2
        return {
            "name": "blosc",
            "configuration": {
                "typesize": config.get("typesize") or _itemsize(dtype),
                "cname": config.get("cname", "lz4"),
                "clevel": config.get("clevel", 5),
                "shuffle": BLOSC_SHUFFLES[shuffle],
                "blocksize": config.get("blocksize", 0),
            },
        }
    return {"name": f"numcodecs.{codec_id}", "configuration": config}


def _get_numcodec(config: Mapping[str, Any], where: str) -> Numcodec:
    try:
        return numcodecs.get_codec(thaw(config))
    except (ValueError, TypeError, KeyError) as exc:
        raise UnsupportedCodecError(
            f"{where}: unknown or invalid numcodecs codec ({exc})"
        ) from None


def _to_v3_item(item: Any, dtype: np.dtype[Any], where: str) -> Any:
    if isinstance(item, CodecSpec):
        return item
    if isinstance(item, Numcodec):
        return _numcodec_to_v3(item, dtype)
    if isinstance(item, str):
        return {"name": item}
    if isinstance(item, Mapping):
        if "name" in item:
            return item
        if "id" in item:
            return _numcodec_to_v3(_get_numcodec(item, where), dtype)
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise InvalidMetadataError(f"{where}: cannot interpret {item!r} as a codec")


def normalize_v3_codecs(
    *,
    filters: Any = "auto",
    serializer: Any = "auto",
    compressors: Any = "auto",
    dtype: np.dtype[Any],
    ndim: int,
) -> tuple[CodecSpec, ...]:
    """The validated v3 ``codecs`` for user-given filters, serializer and compressors.

    Raises
    ------
    InvalidMetadataError, UnsupportedCodecError
        Naming the argument (``filters[0]``, ``compressors``...) at fault.
    """
    dtype = np.dtype(dtype)
    filter_items = [] if filters == "auto" else _items(filters)
    if serializer == "auto" or serializer is None:
        ser: Any = default_v3_serializer(dtype)
    else:
        ser = _to_v3_item(serializer, dtype, "serializer")
    if isinstance(compressors, str) and compressors == "auto":
        comp_items: list[Any] = list(default_v3_compressors())
    else:
        comp_items = _items(compressors)
    codecs = [
        *(_to_v3_item(f, dtype, f"filters[{i}]") for i, f in enumerate(filter_items)),
        ser,
        *(_to_v3_item(c, dtype, f"compressors[{i}]") for i, c in enumerate(comp_items)),
    ]
    return parse_v3_codecs(codecs, dtype=dtype, ndim=ndim, where="codecs")


def _v3_dict_to_numcodecs_config(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    name = item["name"]
    config = dict(item.get("configuration") or {})
    if name == "zstd":
        out = {"id": "zstd", "level": config.get("level", 0)}
        if config.get("checksum"):
            out["checksum"] = True
        return out
    if name == "gzip":
        return {"id": "gzip", "level": config.get("level", 5)}
    if name == "blosc":
        shuffle = config.get("shuffle", "shuffle")
        if shuffle not in BLOSC_SHUFFLES:
            raise InvalidMetadataError(f"{where}: blosc shuffle must be one of {BLOSC_SHUFFLES}")
        return {
            "id": "blosc",
            "cname": config.get("cname", "lz4"),
            "clevel": config.get("clevel", 5),
            "shuffle": BLOSC_SHUFFLES.index(shuffle),
            "blocksize": config.get("blocksize", 0),
        }
    if isinstance(name, str) and name.startswith("numcodecs."):
        return {"id": name[len("numcodecs.") :], **config}
    raise UnsupportedCodecError(f"{where}: codec {name!r} has no Zarr v2 (numcodecs) equivalent")


def _to_v2_config(item: Any, where: str) -> Mapping[str, Any]:
    has_to_dict = callable(getattr(item, "to_dict", None))
    if isinstance(item, CodecSpec) or (not isinstance(item, Numcodec | Mapping) and has_to_dict):
        item = item.to_dict()
    if isinstance(item, str):
        # A codec by name, as v3 takes it: the numcodecs codec of that id with its defaults.
        codec_id = item.removeprefix("numcodecs.")
        config = dict(_get_numcodec({"id": codec_id}, f"{where} ({item!r})").get_config())
    elif isinstance(item, Numcodec):
        config = dict(item.get_config())
    elif isinstance(item, Mapping) and "id" in item:
        config = dict(_get_numcodec(item, where).get_config())
    elif isinstance(item, Mapping) and "name" in item:
        config = dict(_get_numcodec(_v3_dict_to_numcodecs_config(item, where), where).get_config())
    else:
        raise InvalidMetadataError(f"{where}: cannot interpret {item!r} as a codec")
    if config.get("id") == "zstd" and not config.get("checksum"):
        # zarr-python 3.4.2 writes {"id": "zstd", "level": 0}; match it byte for byte.
        config.pop("checksum", None)
    return deep_freeze(config)


def normalize_v2_compressor(compressor: Any, dtype: np.dtype[Any]) -> Mapping[str, Any] | None:
    """The v2 ``compressor`` config for user input (``"auto"`` -> zstd level 0).

    A list is accepted when it holds at most one codec (v2 has a single compressor slot).
    """
    if isinstance(compressor, str) and compressor == "auto":
        return DEFAULT_V2_COMPRESSOR
    items = _items(compressor)
    if not items:
        return None
    if len(items) > 1:
        raise InvalidMetadataError(
            f"compressors: Zarr v2 allows one compressor, got {len(items)}; "
            "put the others in filters"
        )
    return _to_v2_config(items[0], "compressors[0]")


def normalize_v2_filters(
    filters: Any, dtype: np.dtype[Any]
) -> tuple[Mapping[str, Any], ...] | None:
    """The v2 ``filters`` configs for user input; string arrays get ``vlen-utf8`` first."""
    items = [] if (isinstance(filters, str) and filters == "auto") else _items(filters)
    configs = [_to_v2_config(f, f"filters[{i}]") for i, f in enumerate(items)]
    if is_string_dtype(np.dtype(dtype)):
        vlen = {"id": "vlen-bytes"} if is_vlen_bytes_dtype(np.dtype(dtype)) else _VLEN_UTF8_V2
        configs = [c for c in configs if c.get("id") not in ("vlen-utf8", "vlen-bytes")]
        configs.insert(0, vlen)
    return tuple(configs) or None
