"""Turning a node's stored documents into the right metadata class.

:func:`parse_v3` reads one ``zarr.json``; :func:`parse_v2` reads the ``.zarray`` / ``.zgroup`` /
``.zattrs`` triple. Both return an array or group metadata object, or raise a typed error whose
message names the node's path.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cloudzarr.errors import (
    CloudzarrError,
    InvalidMetadataError,
    MetadataError,
    NodeNotFoundError,
    UnsupportedFormatError,
)
from cloudzarr.metadata import consolidated_entries
from cloudzarr.metadata.array_v2 import ArrayMetadataV2
from cloudzarr.metadata.array_v3 import ArrayMetadataV3
from cloudzarr.metadata.frozen import deep_freeze
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.metadata.jsonio import load_document
from cloudzarr.metadata.paths import doc_key

if TYPE_CHECKING:
    ArrayMetadata = ArrayMetadataV2 | ArrayMetadataV3
    NodeMetadata = ArrayMetadataV2 | ArrayMetadataV3 | GroupMetadataV2 | GroupMetadataV3

__all__ = ["parse_v2", "parse_v3", "parse_v3_bytes", "shown_path"]


def shown_path(path: str) -> str:
    """``path`` as shown in messages (``"/"`` for the root)."""
    return path or "/"


#: Parsed array metadata by document content without attributes. Hierarchies repeat one
#: array layout many times (1,000 identical arrays in the benchmark), and validating an array
#: document costs ~0.3 ms, twenty times its json.loads; a hit costs one repr.
_ARRAY_CACHE: OrderedDict[tuple[int, str], Any] = OrderedDict()
_ARRAY_CACHE_SIZE = 512


def _array_cached(zarr_format: int, doc: Mapping[str, Any], attributes: Any, parse: Any) -> Any:
    """``parse()``, memoised on ``doc`` minus ``attributes``, with ``attributes`` set."""
    # repr of JSON values is exact and fast; another key order merely misses the cache.
    body = repr([(k, v) for k, v in doc.items() if k != "attributes"])
    cache_key = (zarr_format, body)
    cached = _ARRAY_CACHE.get(cache_key)
    if cached is None:
        result = parse()
        _ARRAY_CACHE[cache_key] = result
        if len(_ARRAY_CACHE) > _ARRAY_CACHE_SIZE:
            _ARRAY_CACHE.popitem(last=False)
        return result
    _ARRAY_CACHE.move_to_end(cache_key)
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, Mapping):
        return parse()  # let the real parser raise its error
    if not attributes and not cached.attributes:
        return cached  # frozen and identical: share it
    # The cached instance was validated; only the attributes differ. A shallow copy with the
    # attributes swapped skips re-validating an identical layout (frozen: set via object).
    result = copy.copy(cached)
    object.__setattr__(result, "attributes", deep_freeze(dict(attributes)))
    return result


#: Parsed nodes by their exact ``zarr.json`` bytes: a hierarchy's identical documents (every
#: array of one layout without attributes, every plain group) cost one dict lookup after the
#: first, not a ``json.loads`` and a validation each. The objects are frozen, so sharing is safe.
_DOC_CACHE: OrderedDict[bytes, Any] = OrderedDict()
_DOC_CACHE_SIZE = 512
_DOC_CACHE_MAX_BYTES = 16384


def parse_v3_bytes(data: bytes, path: str) -> NodeMetadata:
    """:func:`parse_v3` of the stored bytes of a ``zarr.json`` (memoised on the bytes).

    Raises
    ------
    InvalidMetadataError
        The bytes are not a JSON object (the message names the key).
    """
    raw = bytes(data)
    cached = _DOC_CACHE.get(raw)
    if cached is not None:
        _DOC_CACHE.move_to_end(raw)
        return cached
    node = parse_v3(load_document(raw, doc_key(path, "zarr.json")), path)
    if len(raw) <= _DOC_CACHE_MAX_BYTES:
        _DOC_CACHE[raw] = node
        if len(_DOC_CACHE) > _DOC_CACHE_SIZE:
            _DOC_CACHE.popitem(last=False)
    return node


# What validation code may still raise on a document no check anticipated. The checks above
# name the field; this net keeps the promise that a bad document raises a cloudzarr error.
_UNTYPED = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    AttributeError,
)


def _untyped(exc: Exception, key: str) -> InvalidMetadataError:
    text = str(exc)
    if len(text) > 200:
        text = text[:200] + "..."
    return InvalidMetadataError(f"{key}: invalid metadata document ({type(exc).__name__}: {text})")


def _with_path(exc: MetadataError, path: str) -> MetadataError:
    text = str(exc)
    if repr(path) in text or (path and path in text):
        return exc
    return type(exc)(f"node {shown_path(path)!r}: {text}")


def parse_v3(doc: Mapping[str, Any], path: str) -> NodeMetadata:
    """Parse a node's ``zarr.json``.

    Parameters
    ----------
    doc
        The parsed document.
    path
        The node's path in its store (named in errors).

    Raises
    ------
    UnsupportedFormatError
        ``zarr_format`` is not 3 or ``node_type`` is neither ``array`` nor ``group``.
    MetadataError
        The document is invalid (subclasses name the field).
    """
    if not isinstance(doc, Mapping):
        raise InvalidMetadataError(f"node {shown_path(path)!r}: zarr.json must be a JSON object")
    if doc.get("zarr_format") != 3:
        raise UnsupportedFormatError(
            f"node {shown_path(path)!r}: zarr.json has zarr_format {doc.get('zarr_format')!r}, "
            "expected 3"
        )
    node_type = doc.get("node_type")
    try:
        if node_type == "group":
            return GroupMetadataV3.from_dict(doc, path=path)
        if node_type == "array":
            return _array_cached(
                3,
                doc,
                doc.get("attributes"),
                lambda: ArrayMetadataV3.from_dict(doc, key=doc_key(path, "zarr.json")),
            )
    except MetadataError as exc:
        raise _with_path(exc, path) from None
    except CloudzarrError:
        raise
    except _UNTYPED as exc:
        raise _untyped(exc, doc_key(path, "zarr.json")) from exc
    raise UnsupportedFormatError(
        f"node {shown_path(path)!r}: zarr.json has node_type {node_type!r}, "
        "expected 'array' or 'group'"
    )


def parse_v2(
    zarray: Mapping[str, Any] | None,
    zgroup: Mapping[str, Any] | None,
    zattrs: Mapping[str, Any] | None,
    path: str,
) -> NodeMetadata:
    """Parse a format 2 node from its ``.zarray``, ``.zgroup`` and ``.zattrs`` (None if absent).

    Raises
    ------
    NodeNotFoundError
        Neither ``.zarray`` nor ``.zgroup`` is given.
    InvalidMetadataError
        Both are given (the node is ambiguous), or a document is invalid.
    """
    where = f"node {shown_path(path)!r}"
    if zarray is not None and zgroup is not None:
        raise InvalidMetadataError(
            f"{where}: both .zarray and .zgroup exist; the node is ambiguous"
        )
    if zattrs is not None and not isinstance(zattrs, Mapping):
        raise InvalidMetadataError(f"{where}: .zattrs must be a JSON object")
    try:
        if zgroup is not None:
            return GroupMetadataV2.from_dict(zgroup, zattrs or {}, path=path)
        if zarray is not None:
            return _array_cached(
                2,
                zarray,
                zattrs or {},
                lambda: ArrayMetadataV2.from_dict(
                    zarray, attributes=zattrs or {}, key=doc_key(path, ".zarray")
                ),
            )
    except MetadataError as exc:
        raise _with_path(exc, path) from None
    except CloudzarrError:
        raise
    except _UNTYPED as exc:
        raise _untyped(exc, doc_key(path, ".zarray" if zarray is not None else ".zgroup")) from exc
    raise NodeNotFoundError(f"no .zarray or .zgroup at {shown_path(path)!r}")


# Consolidated metadata parses its entries with the parsers above when they are first used;
# they are handed to it here, so that it (below this module) never imports it.
consolidated_entries.set_entry_parsers(parse_v2, parse_v3)
