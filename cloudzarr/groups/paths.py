"""Node paths: see :mod:`cloudzarr.metadata.paths` (kept here so existing imports work)."""

from cloudzarr.metadata.paths import (
    RESERVED_NAMES,
    V2_DOCS,
    V3_DOCS,
    ZMETADATA,
    ancestors,
    doc_key,
    join_path,
    member_path,
    normalize_path,
    relative_to,
    shown,
)

__all__ = [
    "RESERVED_NAMES",
    "V2_DOCS",
    "V3_DOCS",
    "ZMETADATA",
    "ancestors",
    "doc_key",
    "join_path",
    "member_path",
    "normalize_path",
    "relative_to",
    "shown",
]
