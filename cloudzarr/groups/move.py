"""Moving a node: copy its subtree, claim the destination atomically, then delete the source.

The order and what a reader sees midway are described in
:meth:`cloudzarr.groups.async_group.AsyncGroup.move`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cloudzarr.groups.hierarchy import create_nodes
from cloudzarr.groups.io import node_from_v2_docs
from cloudzarr.groups.paths import RESERVED_NAMES, ZMETADATA, ancestors, doc_key, relative_to
from cloudzarr.metadata.jsonio import load_document
from cloudzarr.metadata.node import parse_v3
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata


def _split(key: str) -> tuple[str, str]:
    parent, _, name = key.rpartition("/")
    return parent, name


def _primary_name(meta: NodeMetadata) -> str:
    if meta.zarr_format == 3:
        return "zarr.json"
    return ".zarray" if meta.node_type == "array" else ".zgroup"


def parse_subtree(docs: dict[str, bytes], zarr_format: int) -> dict[str, NodeMetadata]:
    """The nodes described by a subtree's node documents (store key -> bytes), by path."""
    by_node: dict[str, dict[str, bytes]] = {}
    for key, data in docs.items():
        node_path, name = _split(key)
        by_node.setdefault(node_path, {})[name] = data
    nodes: dict[str, NodeMetadata] = {}
    for path, found in by_node.items():
        parsed = {n: load_document(d, doc_key(path, n)) for n, d in found.items() if n != ZMETADATA}
        if zarr_format == 3:
            if "zarr.json" in parsed:
                nodes[path] = parse_v3(parsed["zarr.json"], path)
            continue
        node = node_from_v2_docs(
            path, parsed.get(".zarray"), parsed.get(".zgroup"), parsed.get(".zattrs")
        )
        if node is not None:
            nodes[path] = node
    return nodes


async def move_node(
    store: Store, src: str, dst: str, meta: NodeMetadata, *, existing: Iterable[str]
) -> dict[str, NodeMetadata]:
    """Copy the subtree at ``src`` to ``dst`` and delete ``src``.

    Returns
    -------
    dict
        The nodes now under ``dst`` and the parent groups created for it, by path.
    """
    keys = [k async for k in store.list_prefix(src)]
    values = await store.get_partial_values([(k, None) for k in keys])
    primary = doc_key(src, _primary_name(meta))
    data: dict[str, bytes] = {}
    node_docs: dict[str, bytes] = {}
    for key, value in zip(keys, values, strict=True):
        if value is None:  # deleted since the listing
            continue
        target = node_docs if _split(key)[1] in RESERVED_NAMES else data
        target[key] = value
    moved_nodes = parse_subtree(node_docs, meta.zarr_format)

    def to_dst(key: str) -> str:
        return doc_key(dst, relative_to(key, src))

    copied = [to_dst(k) for k in data] + [to_dst(k) for k in node_docs if k != primary]
    await store.set_many({to_dst(k): v for k, v in data.items()})
    await store.set_many({to_dst(k): v for k, v in node_docs.items() if k != primary})
    top = moved_nodes.get(src, meta)
    added = {
        (dst if p == src else doc_key(dst, relative_to(p, src))): n for p, n in moved_nodes.items()
    }
    try:
        written = await create_nodes(
            store,
            {dst: top},
            existing=[*existing, *ancestors(src)],
            also_added=added,
            also_removed=[src],
        )
    except BaseException:
        await asyncio.gather(*(store.delete(k) for k in copied))
        raise
    await store.delete(primary)
    await store.delete_dir(src)
    return {**written, **added}
