"""Writing nodes and their parents in one round of concurrent atomic creates.

:func:`create_nodes` is the one place nodes are written. For the requested nodes and every
missing ancestor group it sends, all at once under the store's limiter:

- one atomic create (``set_if_not_exists``) per node document -- never exists-then-put and
  never a listing, so of two writers racing for one path exactly one wins and the other gets
  :class:`~cloudzarr.errors.ContainsGroupError` / :class:`~cloudzarr.errors.ContainsArrayError`;
- for each ancestor, a GET of the document that tells whether it is an array (an error: nothing
  may live below an array) and whether it holds consolidated metadata (which is then updated in
  a second, rare round; see :mod:`cloudzarr.groups.upkeep`).

The ancestors known to exist are read in a first round, before the creates: a holder among them
is marked pending (one swap) before any node is written, and updated and unmarked (one swap)
after, so a writer killed midway leaves it untrusted rather than wrong.

Ancestors the caller knows to exist (the group it writes through, and that group's ancestors)
are only read, not created. A format 2 node whose attributes are not empty writes its
``.zattrs`` right after its ``.zarray``/``.zgroup`` create succeeds (the create decides who owns
the node, so the attributes wait for it).

On any conflict every key this call created is deleted again before the error is raised, so a
failed call leaves the store as it found it. With ``overwrite=True`` each requested node's old
subtree is deleted first (an extra round), and that deletion is not undone on failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cloudzarr.arrays.chunk_io import make_chunk_io
from cloudzarr.errors import (
    ContainsArrayError,
    NodeExistsError,
    NodeTypeError,
    UnsupportedFormatError,
)
from cloudzarr.groups.io import get_doc
from cloudzarr.groups.paths import ZMETADATA, ancestors, doc_key, shown
from cloudzarr.groups.pending import active_batch, begin_change, finish_change
from cloudzarr.groups.upkeep import Holder, holder_from_doc
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.metadata.node import parse_v3
from cloudzarr.metadata.nodes_io import create_node
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata


def check_nodes(nodes: Mapping[str, NodeMetadata]) -> int:
    """Check that ``nodes`` form a valid hierarchy; return its Zarr format.

    Raises
    ------
    UnsupportedFormatError
        The nodes mix Zarr formats.
    NodeTypeError
        A node lies below an array.
    UnsupportedCodecError, InvalidMetadataError
        An array's codecs cannot be built (refused here, before anything is written).
    """
    formats = {n.zarr_format for n in nodes.values()}
    if len(formats) > 1:
        raise UnsupportedFormatError(
            "a hierarchy cannot mix Zarr formats 2 and 3 "
            f"(got {', '.join(f'{p!r}: {n.zarr_format}' for p, n in list(nodes.items())[:4])})"
        )
    for path in nodes:
        for anc in ancestors(path):
            parent = nodes.get(anc)
            if parent is not None and parent.node_type == "array":
                raise NodeTypeError(
                    f"cannot put node {shown(path)!r} below {shown(anc)!r}, which is an array"
                )
    for path, node in nodes.items():
        if node.node_type == "array":
            make_chunk_io(node, path)
    return formats.pop() if formats else 3


def implicit_group(zarr_format: int) -> GroupMetadataV2 | GroupMetadataV3:
    """An empty group of the given format, for missing parents."""
    return GroupMetadataV3() if zarr_format == 3 else GroupMetadataV2()


@dataclass
class _Plan:
    """Results of the creation round, for checking, cleaning up and maintenance."""

    created_keys: list[str] = field(default_factory=list)
    conflicts: list[Exception] = field(default_factory=list)
    holders: list[Holder] = field(default_factory=list)
    created_parents: dict[str, NodeMetadata] = field(default_factory=dict)
    #: Parent groups another writer created first (format 3): listed in holders lacking them.
    found_parents: dict[str, NodeMetadata] = field(default_factory=dict)


async def _create_node(
    store: Store, path: str, node: NodeMetadata, overwrite: bool, plan: _Plan
) -> None:
    if overwrite:
        docs = node.to_documents()
        await store.set_many({doc_key(path, n): d for n, d in docs.items()})
        return
    try:
        plan.created_keys.extend(await create_node(store, path, node))
    except NodeExistsError as exc:
        plan.conflicts.append(exc)


def _kind_of(doc: Mapping[str, Any] | None) -> str | None:
    return None if doc is None else str(doc.get("node_type"))


async def _create_parent(store: Store, path: str, zarr_format: int, plan: _Plan) -> None:
    group = implicit_group(zarr_format)
    if zarr_format == 3:
        key = doc_key(path, "zarr.json")
        created, doc = await asyncio.gather(
            store.set_if_not_exists(key, group.to_documents()["zarr.json"]), get_doc(store, key)
        )
        if created:
            plan.created_keys.append(key)
            plan.created_parents[path] = group
            return
        if doc is None:  # created by someone else between our GET and our create
            doc = await get_doc(store, key)
        if _kind_of(doc) == "array":
            plan.conflicts.append(_parent_is_array(path))
            return
        if doc is not None:
            # Another writer (maybe another process) created it: its own holder update may
            # come after ours, and the node we add must not be listed without its parent.
            plan.found_parents[path] = parse_v3(dict(doc), path)
        _add_holder(plan, path, 3, doc)
        return
    key = doc_key(path, ".zgroup")
    created, zarray, zmeta = await asyncio.gather(
        store.set_if_not_exists(key, group.to_documents()[".zgroup"]),
        get_doc(store, doc_key(path, ".zarray")),
        get_doc(store, doc_key(path, ZMETADATA)),
    )
    if created:
        plan.created_keys.append(key)
        plan.created_parents[path] = group
    if zarray is not None:
        plan.conflicts.append(_parent_is_array(path))
        return
    _add_holder(plan, path, 2, zmeta)


async def _read_ancestor(store: Store, path: str, zarr_format: int, plan: _Plan) -> None:
    name = "zarr.json" if zarr_format == 3 else ZMETADATA
    doc = await get_doc(store, doc_key(path, name))
    if zarr_format == 3 and _kind_of(doc) == "array":
        plan.conflicts.append(_parent_is_array(path))
        return
    _add_holder(plan, path, zarr_format, doc)


def _add_holder(plan: _Plan, path: str, zarr_format: int, doc: Mapping[str, Any] | None) -> None:
    holder = holder_from_doc(path, zarr_format, doc)
    if holder is not None:
        plan.holders.append(holder)


def _parent_is_array(path: str) -> Exception:
    return ContainsArrayError(f"cannot create a node below {shown(path)!r}: an array exists there")


async def create_nodes(
    store: Store,
    nodes: Mapping[str, NodeMetadata],
    *,
    overwrite: bool = False,
    existing: Iterable[str] = (),
    also_added: Mapping[str, NodeMetadata] | None = None,
    also_removed: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, NodeMetadata]:
    """Write ``nodes`` (absolute paths -> metadata) and their missing parent groups.

    Parameters
    ----------
    store
        Where to write.
    nodes
        The nodes to create; paths normalised, one Zarr format.
    overwrite
        Replace existing nodes at these paths (deleting their subtrees first) instead of
        raising.
    existing
        Group paths known to exist (the ancestors the caller writes through): read for
        consolidated metadata upkeep, not created.
    also_added, also_removed
        More changes for the consolidated metadata upkeep (a move's copied subtree and its
        source), applied in the same update.
    progress
        Called as ``progress(done, total)`` as each requested node's create completes.

    Returns
    -------
    dict
        Every node written: the requested ones and the parent groups this call created.

    Raises
    ------
    ContainsGroupError, ContainsArrayError
        A node exists at a requested path (without ``overwrite``), or an ancestor is an array.
    NodeTypeError, UnsupportedFormatError
        See :func:`check_nodes`.
    """
    if not nodes:
        return {}
    zarr_format = check_nodes(nodes)
    known = set(existing)
    parents: set[str] = set()
    for path in nodes:
        parents.update(a for a in ancestors(path) if a not in nodes)
    to_create = sorted(parents - known)
    to_read = sorted(known - set(nodes))
    plan = _Plan()
    # Round 1: the ancestors known to exist -- is one an array, does one hold consolidated
    # metadata? Holders are marked pending before any node is written (see
    # cloudzarr.groups.upkeep), so a writer dying from here on leaves them untrusted, not wrong.
    batch = active_batch(store)
    if batch is not None:
        to_read = [p for p in to_read if p not in batch.marked]  # groups and holders, known
    await _gather_all(store, plan, [_read_ancestor(store, p, zarr_format, plan) for p in to_read])
    holders = [h.path for h in plan.holders]
    token = await begin_change(store, zarr_format, holders)
    counter = _Counter(len(nodes), progress)
    try:
        if overwrite:
            await asyncio.gather(*(store.delete_dir(p) for p in nodes if p))
            if "" in nodes:
                await store.delete_dir("")
        # Round 2: the atomic creates (and the missing parents, which tell whether another
        # writer created one first and whether it holds consolidated metadata).
        await _gather_all(
            store,
            plan,
            [
                *(
                    _counted(_create_node(store, p, n, overwrite, plan), counter)
                    for p, n in nodes.items()
                ),
                *(_create_parent(store, p, zarr_format, plan) for p in to_create),
            ],
        )
    except BaseException:
        # Nothing was created (or it was removed again): take the marks back, changing nothing.
        await finish_change(store, zarr_format, holders, token)
        raise
    written: dict[str, NodeMetadata] = {**plan.created_parents, **nodes}
    # Always: with no holder and no batch this costs nothing; a batch records the change.
    await finish_change(
        store,
        zarr_format,
        [h.path for h in plan.holders],
        token,
        removed=[*also_removed, *(nodes if overwrite else ())],
        added={**written, **(also_added or {})},
        present=plan.found_parents,
    )
    return written


@dataclass
class _Counter:
    total: int
    progress: Callable[[int, int], None] | None
    done: int = 0


async def _counted(coro: Awaitable[None], counter: _Counter) -> None:
    await coro
    counter.done += 1
    if counter.progress is not None:
        counter.progress(counter.done, counter.total)


async def _gather_all(store: Store, plan: _Plan, coros: list[Any]) -> None:
    """Run ``coros`` together; on any failure or conflict remove what ``plan`` created, raise."""
    # return_exceptions: a failed request must not leave sibling creates running unobserved;
    # every one finishes, then whatever this call created is removed before raising.
    outcomes = await asyncio.gather(*coros, return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors or plan.conflicts:
        await asyncio.gather(*(store.delete(k) for k in plan.created_keys))
        raise (errors or plan.conflicts)[0]
