"""A hierarchy member whose metadata cannot be read (an unsupported data type or codec, a
malformed document): listed like any member, so it never hides its siblings, and raising its
error, naming it, only when opened."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

from cloudzarr.errors import MetadataError

__all__ = ["UnreadableNode", "node_type_of_v3_bytes"]


@dataclass(frozen=True, slots=True)
class UnreadableNode:
    """The metadata stand-in of a member that cannot be opened.

    Attributes
    ----------
    path
        The member's path in the store.
    node_type
        ``"array"`` or ``"group"`` when the document says so, else ``"unknown"``.
    zarr_format
        The format of the hierarchy it was found in.
    error
        Why it cannot be opened (the error opening it raises).
    """

    path: str
    node_type: str
    zarr_format: int
    error: MetadataError
    consolidated_metadata: None = None

    @property
    def name(self) -> str:
        """The member's absolute name (``"/a/b"``), as arrays and groups have."""
        return "/" + self.path

    @property
    def basename(self) -> str:
        """The last part of the name."""
        return self.path.rpartition("/")[2]

    def __repr__(self) -> str:
        return f"<Unreadable {self.node_type} {self.name!r}: {self.reason}>"

    @property
    def reason(self) -> str:
        """The error's class and message, one line."""
        return f"{type(self.error).__name__}: {self.error}"

    def raise_error(self) -> NoReturn:
        """Raise the error opening this member raises."""
        raise self.error


def node_type_of_v3_bytes(raw: Any) -> str:
    """The ``node_type`` a v3 document claims, if it can be read at all, else ``"unknown"``."""
    try:
        doc = json.loads(bytes(raw))
    except (ValueError, TypeError):
        return "unknown"
    kind = doc.get("node_type") if isinstance(doc, dict) else None
    return kind if kind in ("array", "group") else "unknown"
