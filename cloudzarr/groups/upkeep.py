"""Keeping consolidated metadata current: holders, pending marks, compare-and-swap updates.

A *holder* is a group that holds consolidated metadata (format 3: inline in its ``zarr.json``;
format 2: its ``.zmetadata``). Every change cloudzarr makes below a holder follows one protocol,
so that a writer killed at any point never leaves a holder that readers trust but that is wrong:

1. **mark** -- each holder above the change is swapped (compare-and-swap) to carry this writer's
   token under the key ``cloudzarr_pending`` (format 3: a top-level field with
   ``"must_understand": false``; format 2: an extra key of ``.zmetadata``; zarr-python 3.4.2
   ignores both);
2. the nodes are written (created, deleted, moved, attributes changed);
3. **apply and unmark** -- each holder is swapped again with the change applied and the token
   removed, in one conditional write.

A holder carrying any token is *pending*: readers do not trust its consolidated metadata
(:func:`cloudzarr.groups.consolidated.open_group_metadata` walks the store instead, or raises
:class:`~cloudzarr.errors.StaleConsolidatedMetadataError` when consolidated metadata was
demanded). A writer that dies between 1 and 3 leaves its token behind, so the holder stays
pending until :func:`~cloudzarr.groups.consolidated.consolidate` rebuilds it. Costs per holder
and change: two swaps (GET + conditional PUT each) instead of one. A batch
(:class:`Batch`) marks each holder once when it first meets it and applies every change at the
end: two swaps per holder for the whole batch.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from cloudzarr.errors import ConsolidatedMetadataError, InvalidMetadataError
from cloudzarr.groups.io import get_doc, read_node_or_none
from cloudzarr.groups.paths import ZMETADATA, doc_key, relative_to, shown
from cloudzarr.metadata.consolidated import ConsolidatedMetadata
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.metadata.jsonio import dump_document, load_document
from cloudzarr.metadata.node import parse_v3
from cloudzarr.metadata.nodes_io import DELETE, swap_document
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata

#: The key of the pending mark in a holder document.
PENDING = "cloudzarr_pending"

Progress = Callable[[int, int], None]


def new_token() -> str:
    """A token naming one writer's pending change."""
    return secrets.token_hex(8)


def pending_of_doc(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    """The pending tokens recorded in a holder document (parsed JSON), ``{}`` when none."""
    if not isinstance(doc, Mapping):
        return {}
    mark = doc.get(PENDING)
    if isinstance(mark, Mapping) and isinstance(mark.get("writers"), Mapping):
        return dict(mark["writers"])
    return {"?": True} if mark is not None else {}  # an unreadable mark is still a mark


def is_pending(node: NodeMetadata) -> bool:
    """Whether a format 3 group's consolidated metadata is marked pending."""
    return bool(pending_of_doc(getattr(node, "extra_fields", None)))


def trusted(node: NodeMetadata) -> NodeMetadata:
    """``node`` without its consolidated metadata if that is marked pending."""
    if node.node_type == "group" and node.consolidated_metadata is not None and is_pending(node):
        return node.with_consolidated(None)
    return node


def _mark(writers: Mapping[str, Any]) -> dict[str, Any]:
    return {"must_understand": False, "writers": dict(writers)}


def _without_mark(group: GroupMetadataV2 | GroupMetadataV3) -> GroupMetadataV2 | GroupMetadataV3:
    if isinstance(group, GroupMetadataV3) and PENDING in group.extra_fields:
        extra = {k: v for k, v in group.extra_fields.items() if k != PENDING}
        return replace(group, extra_fields=extra)
    return group


def _holder_documents(
    path: str,
    group: NodeMetadata,
    cm: ConsolidatedMetadata,
    pending: Mapping[str, Any] | None = None,
) -> dict[str, bytes]:
    """The document(s) that store ``cm`` (and the ``pending`` tokens) for the group at
    ``path``."""
    if isinstance(group, GroupMetadataV3):
        group = _without_mark(group)
        if pending:
            assert isinstance(group, GroupMetadataV3)
            group = replace(group, extra_fields={**group.extra_fields, PENDING: _mark(pending)})
        return {doc_key(path, "zarr.json"): group.with_consolidated(cm).to_documents()["zarr.json"]}
    assert isinstance(group, GroupMetadataV2)
    doc = cm.to_zmetadata(group)
    if pending:
        doc[PENDING] = _mark(pending)
    return {doc_key(path, ZMETADATA): dump_document(doc)}


def _strip(node: NodeMetadata) -> NodeMetadata:
    if node.node_type == "group" and node.consolidated_metadata is not None:
        return node.with_consolidated(None)
    return node


# --- keeping ancestors current ---------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """An ancestor group that holds consolidated metadata, as read before a change."""

    path: str
    group: GroupMetadataV2 | GroupMetadataV3
    consolidated: ConsolidatedMetadata
    #: Tokens of writers whose change is under way (or who died midway).
    pending: Mapping[str, Any] = field(default_factory=dict)


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
        group = _without_mark(node.with_consolidated(None))
        return Holder(path, group, node.consolidated_metadata, pending_of_doc(doc))
    key = doc_key(path, ZMETADATA)
    cm = ConsolidatedMetadata.from_zmetadata(doc, key=key)
    attrs = doc["metadata"].get(".zattrs") or {}
    return Holder(path, GroupMetadataV2(attributes=attrs), cm, pending_of_doc(doc))


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
    mark: str | None = None,
    unmark: str | None = None,
) -> tuple[dict[str, bytes], list[str]]:
    """The rewritten documents of ``holders`` after removing the subtrees at ``removed`` and
    adding or replacing the nodes in ``added`` (store paths, absolute).

    ``own_attributes`` gives new attributes for a holder itself (its ``.zmetadata`` repeats
    a format 2 group's own ``.zattrs``). ``present`` are nodes found existing (a parent group
    another writer created): listed only where a holder lacks them, never replacing an entry,
    which may be newer than what was read. ``mark`` adds a writer's pending token, ``unmark``
    removes one (see the module notes).

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
        pending = dict(holder.pending)
        if unmark is not None:
            pending.pop(unmark, None)
        if mark is not None:
            pending[mark] = round(time.time())
        changed = changed or bool(new) or bool(gone) or pending != dict(holder.pending)
        if not changed:
            continue
        if cm is None:
            if isinstance(group, GroupMetadataV3):
                writes[doc_key(holder.path, "zarr.json")] = group.to_documents()["zarr.json"]
            else:
                deletes.append(doc_key(holder.path, ZMETADATA))
            continue
        writes.update(_holder_documents(holder.path, group, cm, pending))
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
    mark: str | None = None,
    unmark: str | None = None,
    progress: Progress | None = None,
    reread: Iterable[str] = (),
) -> None:
    """Apply a change to the consolidated metadata held at ``paths``.

    ``removed``, ``added``, ``own_attributes``, ``present``, ``mark`` and ``unmark`` are as
    for :func:`updated_documents`; ``progress(done, total)`` is called as holders are done.
    ``reread`` names nodes whose metadata each holder swap reads again from the store after
    reading the holder, replacing what ``added`` says: of two writers changing one node, the
    holder then ends with the node as the later one left it, whichever holder swap won last.

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
    change = _Change(
        removed,
        dict(added or {}),
        dict(own_attributes or {}),
        dict(present or {}),
        mark,
        unmark,
        tuple(reread),
    )
    locks = [_lock(store, p) for p in ordered]
    for lock in locks:  # sorted order: no two callers wait on each other in a cycle
        await lock.acquire()
    try:
        done = 0

        async def one(path: str) -> None:
            nonlocal done
            own = replace(
                change, added=dict(change.added), own_attributes=dict(change.own_attributes)
            )
            await _swap_holder(store, zarr_format, path, own)
            done += 1
            if progress is not None:
                progress(done, len(ordered))

        if store.supports_compare_and_swap:
            await asyncio.gather(*(one(p) for p in ordered))
            return
        holders = await fetch_holders(store, ordered, zarr_format)
        writes, deletes = change.apply(holders.values())
        await apply_updates(store, writes, deletes)
        if progress is not None:
            progress(len(ordered), len(ordered))
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
    mark: str | None = None
    unmark: str | None = None
    reread: tuple[str, ...] = ()

    def apply(self, holders: Iterable[Holder]) -> tuple[dict[str, bytes], list[str]]:
        return updated_documents(
            holders,
            removed=self.removed,
            added=self.added,
            own_attributes=self.own_attributes,
            present=self.present,
            mark=self.mark,
            unmark=self.unmark,
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

    async def prepare() -> None:
        nodes = await asyncio.gather(
            *(read_node_or_none(store, p, zarr_format) for p in change.reread)
        )
        for p, node in zip(change.reread, nodes, strict=True):
            if node is None:
                continue  # deleted meanwhile: its deleter updates the holders
            change.added[p] = node
            if p in change.own_attributes:
                change.own_attributes[p] = node.attributes

    await swap_document(
        store,
        key,
        modify,
        what=f"consolidated metadata of {shown(path)!r}",
        prepare=prepare if change.reread else None,
    )


def _below(path: str, ancestor: str) -> bool:
    return path != ancestor and (ancestor == "" or path.startswith(ancestor + "/"))
