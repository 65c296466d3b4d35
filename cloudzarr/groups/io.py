"""Reading node documents: see :mod:`cloudzarr.metadata.nodes_io` (kept here so existing
imports work)."""

from cloudzarr.metadata.nodes_io import (
    check_format,
    get_doc,
    get_docs,
    node_from_v2_docs,
    read_node,
    read_node_or_none,
)

__all__ = [
    "check_format",
    "get_doc",
    "get_docs",
    "node_from_v2_docs",
    "read_node",
    "read_node_or_none",
]
