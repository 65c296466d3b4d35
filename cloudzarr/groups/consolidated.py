"""Reading, writing and maintaining consolidated metadata.

Policy: **consolidated metadata is kept current, never silently stale.** Every write cloudzarr
makes to a hierarchy (creating, deleting or moving a node, updating attributes) also reads the
metadata document of every ancestor group of the changed nodes, up to the store root -- in the
same round as the write itself where the write allows -- and rewrites each ancestor that holds
consolidated metadata (``zarr.json`` inline in format 3, ``.zmetadata`` in format 2) with the
change applied. Updating rather than dropping keeps the one-GET open of a consolidated hierarchy
working after small edits.

Concurrent writers. Within one process, changes to one holder are serialised by a lock per
store and path. Across processes (dask workers, parallel jobs) each holder document is read
with its version (``get_with_version``) and written back with ``set_if_version``: a writer that
lost the race reads the document again, applies its change to what the other wrote and tries
again (at most ``metadata.cas_attempts`` times, then
:class:`~cloudzarr.errors.ConcurrentUpdateError` naming the key), so no entry is lost. Applying a
change twice gives the same document, so a
conditional write whose outcome was unknown (:class:`~cloudzarr.errors.AmbiguousWriteError`) is
simply re-read and re-applied. This costs what the plain read and write cost (one GET carrying
the ETag or generation, one conditional PUT) when nobody else writes.

Limits, stated plainly:

- on a store without compare-and-swap (``supports_compare_and_swap`` False: fsspec over
  protocols other than ``file`` and ``memory``) the update is a plain read-modify-write: two
  processes changing one consolidated hierarchy at the same moment can lose an entry. Run
  :func:`consolidate` after concurrent bulk writes from several processes there;
- a format 2 holder whose consolidated metadata cannot take a change is invalidated by
  deleting its ``.zmetadata`` with a plain delete (missing is never stale, so this needs no
  condition), except on LocalStore, where such a delete racing another process's conditional
  write can be undone by it (see :mod:`cloudzarr.storage.local_cas`);
- a parent group another writer created first is added where a holder lacks it (format 3);
  in format 2 its attributes were not read, so a holder updated before the creator's own
  update cannot list the new node and is invalidated (missing, not stale);
- :func:`consolidate` itself is a walk followed by plain writes: a node another process
  creates during the walk may be left out, and its upkeep write may be overwritten;
- writes made by other software (zarr-python never updates consolidated metadata) are not
  seen; :func:`consolidate` rebuilds from the store;
- a format 2 hierarchy is maintained under the default key ``.zmetadata`` only.

A group opened with consolidated metadata trusts it, as zarr-python does: a node it lists that
was deleted behind cloudzarr's back is still returned (its chunks read as the fill value), and
one added behind its back is not seen. Open with ``use_consolidated=False`` to see the store
itself, or run :func:`consolidate` to bring the document back in line.

:func:`consolidate` walks the store itself, ignoring any consolidated metadata held by nested
groups (zarr-python trusts those, so a stale grandchild stays stale after re-consolidating the
root), and rewrites every nested group that holds consolidated metadata along with the root.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cloudzarr.errors import (
    ConsolidatedMetadataError,
    ContainsArrayError,
    GroupNotFoundError,
    InvalidMetadataError,
)
from cloudzarr.groups.discovery import walk
from cloudzarr.groups.io import check_format, get_doc, get_docs
from cloudzarr.groups.paths import ZMETADATA, doc_key, join_path, relative_to, shown
from cloudzarr.metadata.consolidated import ConsolidatedMetadata
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.metadata.jsonio import dump_document, load_document
from cloudzarr.metadata.node import parse_v2, parse_v3
from cloudzarr.metadata.nodes_io import DELETE, swap_document
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.group import GroupMetadata
    from cloudzarr.metadata.node import NodeMetadata

UseConsolidated = bool | str | None


def _not_group(path: str, what: str) -> GroupNotFoundError:
    return GroupNotFoundError(f"no group at {shown(path)!r}: {what}")


async def open_group_metadata(
    store: Store,
    path: str,
    zarr_format: int | None = None,
    use_consolidated: UseConsolidated = None,
) -> GroupMetadata:
    """Read a group's metadata (with its consolidated metadata if wanted) in one round of
    concurrent GETs.

    ``zarr_format=None`` GETs ``zarr.json``, ``.zgroup``, ``.zattrs`` and (unless
    ``use_consolidated`` is False) ``.zmetadata`` or the key named by ``use_consolidated``
    together; format 3 wins when both formats are present. ``use_consolidated``: None uses
    consolidated metadata when present; True requires it; False ignores it; a string names
    the format 2 key to read it from.

    Raises
    ------
    GroupNotFoundError
        Nothing is at ``path`` (or a format 2 array, whose ``.zarray`` is not read).
    ContainsArrayError
        A format 3 array is at ``path``.
    ConsolidatedMetadataError
        ``use_consolidated=True`` and there is none, or it is malformed.
    TypeError
        A key name was given for a format 3 group.
    """
    check_format(zarr_format)
    if use_consolidated is not None and not isinstance(use_consolidated, bool | str):
        raise TypeError(f"use_consolidated must be a bool, a str or None, not {use_consolidated!r}")
    if isinstance(use_consolidated, str) and zarr_format == 3:
        raise TypeError("use_consolidated must be a bool or None for Zarr format 3")
    cm_key = use_consolidated if isinstance(use_consolidated, str) else ZMETADATA
    want_cm = use_consolidated is not False
    names: tuple[str, ...] = ()
    if zarr_format in (3, None):
        names += ("zarr.json",)
    if zarr_format in (2, None):
        names += (".zgroup", ".zattrs") + ((cm_key,) if want_cm else ())
    docs = dict(zip(names, await get_docs(store, path, names), strict=True))

    v3doc = docs.get("zarr.json")
    if v3doc is not None:
        if isinstance(use_consolidated, str):
            raise TypeError("use_consolidated must be a bool or None for Zarr format 3")
        node = parse_v3(v3doc, path)
        if not isinstance(node, GroupMetadataV3):
            # As zarr-python: the document read says what is there, so say it.
            raise ContainsArrayError(
                f"no group at {shown(path)!r} in {store!r}: an array exists there"
            )
        if use_consolidated is True and node.consolidated_metadata is None:
            raise ConsolidatedMetadataError(
                f"consolidated metadata requested with use_consolidated=True but not found in "
                f"{doc_key(path, 'zarr.json')!r}"
            )
        if use_consolidated is False and node.consolidated_metadata is not None:
            node = node.with_consolidated(None)
        return node
    zgroup = docs.get(".zgroup")
    if zgroup is None:
        raise _not_group(path, f"no zarr.json or .zgroup in {store!r}")
    group = parse_v2(None, zgroup, docs.get(".zattrs"), path)
    assert isinstance(group, GroupMetadataV2)
    cm_doc = docs.get(cm_key) if want_cm else None
    if cm_doc is None:
        if use_consolidated is True or isinstance(use_consolidated, str):
            raise ConsolidatedMetadataError(
                f"consolidated metadata requested but {doc_key(path, cm_key)!r} does not exist"
            )
        return group
    cm = ConsolidatedMetadata.from_zmetadata(cm_doc, key=doc_key(path, cm_key))
    return group.with_consolidated(cm)


def _strip(node: NodeMetadata) -> NodeMetadata:
    if node.node_type == "group" and node.consolidated_metadata is not None:
        return node.with_consolidated(None)
    return node


async def consolidate(
    store: Store, path: str = "", zarr_format: int | None = None
) -> GroupMetadata:
    """Rebuild the consolidated metadata of the group at ``path`` from the store and write it.

    The walk ignores consolidated metadata held by nested groups, and every nested group that
    holds some is rewritten with its part of the fresh result.

    Returns
    -------
    GroupMetadata
        The group's metadata, carrying the new consolidated metadata.
    """
    group = await open_group_metadata(store, path, zarr_format, use_consolidated=False)
    fmt = group.zarr_format
    found: dict[str, NodeMetadata] = {}
    async for rel, node in walk(
        store, path, fmt, max_depth=None, use_consolidated_for_children=False
    ):
        found[rel] = node
    holders = [
        rel
        for rel, n in found.items()
        if n.node_type == "group" and n.consolidated_metadata is not None
    ]
    if fmt == 2:
        groups = [rel for rel, n in found.items() if n.node_type == "group"]
        zmeta = await asyncio.gather(
            *(store.exists(doc_key(join_path(path, rel), ZMETADATA)) for rel in groups)
        )
        holders = [rel for rel, has in zip(groups, zmeta, strict=True) if has]
    cm = ConsolidatedMetadata.from_nodes(
        {rel: _strip(n) for rel, n in found.items()}, zarr_format=fmt
    )
    writes: dict[str, bytes] = {}
    writes.update(_holder_documents(path, group, cm))
    for rel in holders:
        nested = found[rel]
        assert isinstance(nested, GroupMetadataV2 | GroupMetadataV3)
        writes.update(_holder_documents(join_path(path, rel), _strip(nested), cm.subtree(rel)))
    await store.set_many(writes)
    return group.with_consolidated(cm)


def _holder_documents(path: str, group: NodeMetadata, cm: ConsolidatedMetadata) -> dict[str, bytes]:
    """The document(s) that store ``cm`` for the group at ``path``."""
    if isinstance(group, GroupMetadataV3):
        return {doc_key(path, "zarr.json"): group.with_consolidated(cm).to_documents()["zarr.json"]}
    assert isinstance(group, GroupMetadataV2)
    return {doc_key(path, ZMETADATA): dump_document(cm.to_zmetadata(group))}


# --- keeping ancestors current ---------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """An ancestor group that holds consolidated metadata, as read before a change."""

    path: str
    group: GroupMetadataV2 | GroupMetadataV3
    consolidated: ConsolidatedMetadata


def holder_keys(paths: Iterable[str], zarr_format: int) -> dict[str, str]:
    """The document to GET for each ancestor to learn whether it holds consolidated metadata."""
    name = "zarr.json" if zarr_format == 3 else ZMETADATA
    return {p: doc_key(p, name) for p in paths}


def holder_from_doc(path: str, zarr_format: int, doc: Mapping[str, Any] | None) -> Holder | None:
    """Interpret an ancestor's fetched document (see :func:`holder_keys`).

    Raises
    ------
    ContainsArrayError-like errors are the caller's concern; here a format 3 array document
    raises InvalidMetadataError naming the path.
    """
    if doc is None:
        return None
    if zarr_format == 3:
        node = parse_v3(dict(doc), path)
        if not isinstance(node, GroupMetadataV3):
            raise InvalidMetadataError(f"{shown(path)!r} is an array, not a group")
        if node.consolidated_metadata is None:
            return None
        return Holder(path, node.with_consolidated(None), node.consolidated_metadata)
    key = doc_key(path, ZMETADATA)
    cm = ConsolidatedMetadata.from_zmetadata(doc, key=key)
    attrs = doc["metadata"].get(".zattrs") or {}
    return Holder(path, GroupMetadataV2(attributes=attrs), cm)


async def fetch_holders(store: Store, paths: Iterable[str], zarr_format: int) -> dict[str, Holder]:
    """GET the consolidated-metadata documents of ``paths`` concurrently; keep the holders."""
    keys = holder_keys(paths, zarr_format)
    docs = await asyncio.gather(*(get_doc(store, k) for k in keys.values()))
    out: dict[str, Holder] = {}
    for p, doc in zip(keys, docs, strict=True):
        holder = holder_from_doc(p, zarr_format, doc)
        if holder is not None:
            out[p] = holder
    return out


def updated_documents(
    holders: Iterable[Holder],
    *,
    removed: Iterable[str] = (),
    added: Mapping[str, NodeMetadata] | None = None,
    own_attributes: Mapping[str, Mapping[str, Any]] | None = None,
    present: Mapping[str, NodeMetadata] | None = None,
) -> tuple[dict[str, bytes], list[str]]:
    """The rewritten documents of ``holders`` after removing the subtrees at ``removed`` and
    adding or replacing the nodes in ``added`` (store paths, absolute).

    ``own_attributes`` gives new attributes for a holder itself (its ``.zmetadata`` repeats
    a format 2 group's own ``.zattrs``). ``present`` are nodes found existing (a parent group
    another writer created): listed only where a holder lacks them, never replacing an entry,
    which may be newer than what was read.

    Returns
    -------
    writes, deletes
        Documents to store, and keys to delete: a holder whose consolidated metadata cannot
        take the change (it lacks the new node's parent, say: it was already stale) is
        invalidated -- its consolidated metadata is removed rather than left wrong.
    """
    removed = list(removed)
    added = dict(added or {})
    own_attributes = own_attributes or {}
    present = present or {}
    writes: dict[str, bytes] = {}
    deletes: list[str] = []
    for holder in holders:
        cm: ConsolidatedMetadata | None = holder.consolidated
        group: NodeMetadata = holder.group
        changed = holder.path in own_attributes
        if changed:
            group = group.with_attributes(own_attributes[holder.path])
        new = {
            relative_to(p, holder.path): _strip(n)
            for p, n in present.items()
            if _below(p, holder.path) and relative_to(p, holder.path) not in holder.consolidated
        }
        new.update(
            (relative_to(p, holder.path), _strip(n))
            for p, n in added.items()
            if _below(p, holder.path)
        )
        gone = [relative_to(p, holder.path) for p in removed if _below(p, holder.path)]
        try:
            for rel in gone:
                assert cm is not None
                cm = cm.without(rel)
            if new:
                assert cm is not None
                cm = cm.with_nodes(new)
        except ConsolidatedMetadataError:
            cm = None
        changed = changed or bool(new) or bool(gone)
        if not changed:
            continue
        if cm is None:
            if isinstance(group, GroupMetadataV3):
                writes[doc_key(holder.path, "zarr.json")] = group.to_documents()["zarr.json"]
            else:
                deletes.append(doc_key(holder.path, ZMETADATA))
            continue
        writes.update(_holder_documents(holder.path, group, cm))
    return writes, deletes


async def apply_updates(store: Store, writes: Mapping[str, bytes], deletes: Iterable[str]) -> None:
    """Store ``writes`` and delete ``deletes`` concurrently."""
    await asyncio.gather(store.set_many(writes), *(store.delete(k) for k in deletes))


_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, str], asyncio.Lock]]
_LOCKS = weakref.WeakKeyDictionary()


def _lock(store: Store, path: str) -> asyncio.Lock:
    per_loop = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    key = (store.with_read_only(False) if store.read_only else store, path)
    lock = per_loop.get(key)
    if lock is None:
        lock = per_loop[key] = asyncio.Lock()
    return lock


async def update_holders(
    store: Store,
    zarr_format: int,
    paths: Iterable[str],
    *,
    removed: Iterable[str] = (),
    added: Mapping[str, NodeMetadata] | None = None,
    own_attributes: Mapping[str, Mapping[str, Any]] | None = None,
    present: Mapping[str, NodeMetadata] | None = None,
) -> None:
    """Apply a change to the consolidated metadata held at ``paths``.

    ``removed``, ``added``, ``own_attributes`` and ``present`` are as for
    :func:`updated_documents`.

    The holders' documents are read again and rewritten under a per-store, per-path lock, so
    concurrent changes made in this process (``asyncio.gather`` of two ``create_group`` calls,
    say) never overwrite each other's entries; on a store with compare-and-swap each document
    is read with its version and written back conditionally, so changes made by other processes
    are not overwritten either (see the module notes). The callers learn which ancestors are
    holders from a GET in their first round; the common case (no holder) costs nothing here.

    Raises
    ------
    ConcurrentUpdateError
        A holder document kept changing under this writer (``metadata.cas_attempts`` lost races).
    """
    ordered = sorted(set(paths))
    if not ordered:
        return
    removed = list(removed)
    change = _Change(removed, dict(added or {}), dict(own_attributes or {}), dict(present or {}))
    locks = [_lock(store, p) for p in ordered]
    for lock in locks:  # sorted order: no two callers wait on each other in a cycle
        await lock.acquire()
    try:
        if store.supports_compare_and_swap:
            await asyncio.gather(*(_swap_holder(store, zarr_format, p, change) for p in ordered))
            return
        holders = await fetch_holders(store, ordered, zarr_format)
        writes, deletes = change.apply(holders.values())
        await apply_updates(store, writes, deletes)
    finally:
        for lock in reversed(locks):
            lock.release()


@dataclass(frozen=True)
class _Change:
    """One change to consolidated metadata, re-appliable to a freshly read holder."""

    removed: list[str]
    added: dict[str, NodeMetadata]
    own_attributes: dict[str, Mapping[str, Any]]
    present: dict[str, NodeMetadata]

    def apply(self, holders: Iterable[Holder]) -> tuple[dict[str, bytes], list[str]]:
        return updated_documents(
            holders,
            removed=self.removed,
            added=self.added,
            own_attributes=self.own_attributes,
            present=self.present,
        )


async def _swap_holder(store: Store, zarr_format: int, path: str, change: _Change) -> None:
    """Apply ``change`` to the holder at ``path`` by compare-and-swap."""
    key = holder_keys([path], zarr_format)[path]

    def modify(raw: bytes | None) -> bytes | Any | None:
        holder = (
            None if raw is None else holder_from_doc(path, zarr_format, load_document(raw, key))
        )
        if holder is None:
            return None  # the group, or its consolidated metadata, is gone: nothing to keep
        writes, deletes = change.apply([holder])
        return DELETE if deletes else writes.get(key)

    await swap_document(store, key, modify, what=f"consolidated metadata of {shown(path)!r}")


def _below(path: str, ancestor: str) -> bool:
    return path != ancestor and (ancestor == "" or path.startswith(ancestor + "/"))
