"""Reading node documents: one round of concurrent GETs per node, never a listing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudzarr.concurrency import gather
from cloudzarr.errors import NodeNotFoundError, UnsupportedFormatError
from cloudzarr.groups.paths import V2_DOCS, V3_DOCS, doc_key, shown
from cloudzarr.metadata.jsonio import load_document
from cloudzarr.metadata.node import parse_v2, parse_v3, parse_v3_bytes
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata


def check_format(zarr_format: int | None) -> None:
    """Refuse a ``zarr_format`` other than 2, 3 or None."""
    if zarr_format not in (2, 3, None):
        raise UnsupportedFormatError(f"zarr_format must be 2, 3 or None, got {zarr_format!r}")


async def get_doc(store: Store, key: str) -> dict[str, Any] | None:
    """GET and parse a JSON document; None if the key is missing."""
    raw = await store.get(key)
    return None if raw is None else load_document(raw, key)


async def get_docs(store: Store, path: str, names: tuple[str, ...]) -> list[dict[str, Any] | None]:
    """GET the documents ``names`` of the node at ``path`` concurrently (one round)."""
    return await gather(*(get_doc(store, doc_key(path, n)) for n in names))


def node_from_v2_docs(
    path: str,
    zarray: dict[str, Any] | None,
    zgroup: dict[str, Any] | None,
    zattrs: dict[str, Any] | None,
) -> NodeMetadata | None:
    """The node described by format 2 documents, or None if there is none."""
    if zarray is None and zgroup is None:
        return None
    return parse_v2(zarray, zgroup, zattrs, path)


async def read_node_or_none(
    store: Store, path: str, zarr_format: int | None
) -> NodeMetadata | None:
    """The metadata of the node at ``path``, or None.

    Costs one round: 1 GET (format 3), 3 GETs (format 2) or 4 GETs (format unknown, in which
    case format 3 wins when both exist, as in zarr-python).
    """
    check_format(zarr_format)
    if zarr_format == 3:
        raw = await store.get(doc_key(path, V3_DOCS[0]))
        return None if raw is None else parse_v3_bytes(raw, path)
    if zarr_format == 2:
        zarray, zgroup, zattrs = await get_docs(store, path, V2_DOCS)
        return node_from_v2_docs(path, zarray, zgroup, zattrs)
    doc, zarray, zgroup, zattrs = await get_docs(store, path, V3_DOCS + V2_DOCS)
    if doc is not None:
        return parse_v3(doc, path)
    return node_from_v2_docs(path, zarray, zgroup, zattrs)


async def read_node(store: Store, path: str, zarr_format: int | None = None) -> NodeMetadata:
    """Like :func:`read_node_or_none`, raising NodeNotFoundError when nothing is there."""
    node = await read_node_or_none(store, path, zarr_format)
    if node is None:
        raise NodeNotFoundError(f"no array or group at {shown(path)!r} in {store!r}")
    return node
