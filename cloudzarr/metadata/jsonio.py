"""Reading and writing metadata documents as JSON bytes, within limits.

``load_document`` is :func:`json.loads` plus checks that keep hostile documents from costing
unbounded time or memory downstream: a size limit (``metadata.max_document_bytes``, checked
before parsing), a nesting-depth limit (``metadata.max_depth``; deeper documents would make the
recursive code after the parser raise ``RecursionError``) and strings that UTF-8 can encode (a
JSON escape such as ``"\\ud800"`` parses to a lone surrogate that no document can be written
with). A 900 KB consolidated document still parses in milliseconds: the checks are one pass over
the parsed containers. ``dump_document`` indents by 2 like zarr-python and refuses NaN and
infinities, which :mod:`cloudzarr.metadata.fill_value` encodes as strings before this point.

:func:`check_json_value` applies the same depth and encoding checks to values users pass
(attributes), naming the offending field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cloudzarr.config import config
from cloudzarr.errors import InvalidMetadataError
from cloudzarr.metadata.frozen import thaw

__all__ = ["check_json_value", "dump_document", "load_document"]

# Below these, the configured limits (whose minimums they are) need not be looked up: most
# documents are small and shallow, and a config lookup costs more than the check.
_SMALL_BYTES = 1024
_SHALLOW = 8


def load_document(data: bytes | bytearray | memoryview | str, key: str) -> dict[str, Any]:
    """Parse a metadata document.

    Parameters
    ----------
    data
        The document's bytes (UTF-8 JSON).
    key
        The store key it was read from; named in any error.

    Returns
    -------
    dict
        The parsed JSON object.

    Raises
    ------
    InvalidMetadataError
        If the bytes are not UTF-8 JSON, the top-level value is not an object, the document is
        larger than ``metadata.max_document_bytes`` or nested deeper than ``metadata.max_depth``,
        or a string in it cannot be encoded as UTF-8 (a lone surrogate).
    """
    if len(data) > _SMALL_BYTES:
        limit = config.get("metadata.max_document_bytes")
        if len(data) > limit:
            raise InvalidMetadataError(
                f"{key}: metadata document of {len(data)} bytes exceeds the limit of {limit} "
                "(config 'metadata.max_document_bytes')"
            )
    try:
        doc = json.loads(bytes(data) if isinstance(data, memoryview) else data)
    except RecursionError:
        # The C parser gives up on nesting far beyond any limit we allow.
        raise InvalidMetadataError(f"{key}: metadata document is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidMetadataError(f"{key}: malformed JSON metadata document ({exc})") from None
    if not isinstance(doc, dict):
        raise InvalidMetadataError(
            f"{key}: metadata document must be a JSON object, got {type(doc).__name__}"
        )
    check_json_value(doc, key, parsed=True)
    return doc


def _bad_string(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_json_value(value: Any, where: str, *, parsed: bool = False) -> None:
    """Check that ``value`` nests at most ``metadata.max_depth`` deep and that every string in it
    (keys included) can be encoded as UTF-8.

    Parameters
    ----------
    value
        A JSON-like value (dicts, lists, tuples, scalars; other objects are left alone).
    where
        The document key or argument named in errors (``"a/zarr.json"``, ``"attributes"``).
    parsed
        Whether ``value`` came from :func:`json.loads` (plain dicts and lists only).

    Raises
    ------
    InvalidMetadataError
        Naming ``where`` and the path of the offending field.
    """
    # Breadth first without recursion: the point is to refuse values too deep to recurse into.
    level = [value]
    depth = 0
    limit = _SHALLOW
    while level:
        depth += 1
        if depth > limit:
            if limit == _SHALLOW:
                limit = config.get("metadata.max_depth")
            if depth > limit:
                path = _locate(value, lambda v, d, limit=limit: d > limit and _container(v))
                raise InvalidMetadataError(
                    f"{where}: {path or 'document'} is nested more than {limit} levels deep "
                    "(config 'metadata.max_depth')"
                )
        below: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is dict or (kind is not list and isinstance(item, Mapping)):
                for k in item:
                    if type(k) is str and not k.isascii() and _bad_string(k):
                        _raise_bad_string(value, where)
                values = item.values()
            else:
                values = item
            for v in values:
                kind = type(v)
                if kind is str:
                    if not v.isascii() and _bad_string(v):
                        _raise_bad_string(value, where)
                elif kind is dict or kind is list or (not parsed and _container(v)):
                    below.append(v)
        level = below


def _container(value: Any) -> bool:
    return isinstance(value, Mapping | list | tuple)


def _raise_bad_string(value: Any, where: str) -> None:
    path = _locate(value, lambda v, _d: isinstance(v, str) and _bad_string(v))
    raise InvalidMetadataError(
        f"{where}: {path or 'a key'} holds a string that cannot be encoded as UTF-8 "
        "(a lone surrogate)"
    )


def _locate(value: Any, bad: Any) -> str:
    """The path (``['attributes']['a'][3]``) of the first value or key for which
    ``bad(value, depth)`` is true, found depth first without recursion; ``""`` if none."""
    path = _first_path(value, bad)
    # A path through a hostile document can be as long as the document: keep both ends.
    return path if len(path) <= 120 else f"{path[:80]}...{path[-30:]}"


def _first_path(value: Any, bad: Any) -> str:
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if bad(item, depth):
            return path
        if isinstance(item, Mapping):
            for k, v in reversed(list(item.items())):
                if bad(k, depth + 1):
                    return f"{path}[{k!r}] (a key)".lstrip(".")
                stack.append((v, f"{path}[{k!r}]", depth + 1))
        elif isinstance(item, list | tuple):
            for i in range(len(item) - 1, -1, -1):
                stack.append((item[i], f"{path}[{i}]", depth + 1))
    return ""


def dump_document(doc: Mapping[str, Any]) -> bytes:
    """Encode a metadata document as UTF-8 JSON bytes (indent 2, except consolidated documents;
    no NaN/Infinity literals).

    Raises
    ------
    InvalidMetadataError
        If the document holds a value JSON cannot represent (NaN, a set, an object...), a string
        UTF-8 cannot encode, or nests deeper than ``metadata.max_depth``.
    """
    check_json_value(doc, "metadata document")
    # A consolidated document lists a whole hierarchy: indenting it would make json use its
    # pure-Python encoder (4x slower on 1,400 nodes) for a document nobody reads by eye.
    big = doc.get("consolidated_metadata") is not None or "zarr_consolidated_format" in doc
    indent = None if big else 2
    try:
        text = json.dumps(thaw(doc), indent=indent, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidMetadataError(f"metadata document is not JSON-serialisable: {exc}") from None
    return text.encode("utf-8")
