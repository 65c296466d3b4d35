"""Node paths inside a store: normalisation, joining, ancestors, document keys.

The one place node paths are handled, for the metadata, arrays and groups layers alike.
"""

from __future__ import annotations

from cloudzarr.errors import InvalidArgumentError, InvalidKeyError
from cloudzarr.storage.keys import join_key

#: Node paths join as store keys do (normalised, no leading or trailing "/").
join_path = join_key

#: The documents that make up a node, by Zarr format.
V3_DOCS = ("zarr.json",)
V2_DOCS = (".zarray", ".zgroup", ".zattrs")
ZMETADATA = ".zmetadata"
#: Names in a listing that are documents, never children.
RESERVED_NAMES = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})


def normalize_path(path: str) -> str:
    """Return ``path`` without leading or trailing slashes, validated.

    Raises
    ------
    InvalidKeyError
        If a segment is empty, ``.`` or ``..``.
    """
    if not isinstance(path, str):
        raise InvalidKeyError(f"node path must be a str, got {type(path).__name__}")
    stripped = path.strip("/")
    if not stripped:
        return ""
    for segment in stripped.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError(f"node path {path!r} has an invalid segment {segment!r}")
    return stripped


def relative_to(path: str, base: str) -> str:
    """``path`` relative to its ancestor ``base``."""
    if not base:
        return path
    if path == base:
        return ""
    return path[len(base) + 1 :]


def ancestors(path: str) -> list[str]:
    """Every group above ``path``, root first: ``"a/b/c"`` -> ``["", "a", "a/b"]``."""
    if not path:
        return []
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts))]


def doc_key(path: str, name: str) -> str:
    """The store key of the document ``name`` of the node at ``path``."""
    return f"{path}/{name}" if path else name


def shown(path: str) -> str:
    """A node path as shown in messages."""
    return "/" + path


def member_path(name: str) -> str:
    """``name`` normalised as a member path (not empty: that would name the group itself).

    Raises
    ------
    InvalidArgumentError
        ``name`` is empty once normalised.
    """
    rel = normalize_path(name)
    if not rel:
        raise InvalidArgumentError(
            f"member path {name!r} is empty: it would name the group itself, not a member"
        )
    return rel
