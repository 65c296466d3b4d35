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
from collections.abc import Callable
from typing import TYPE_CHECKING

from cloudzarr.errors import (
    ConsolidatedMetadataError,
    ContainsArrayError,
    GroupNotFoundError,
    StaleConsolidatedMetadataError,
)
from cloudzarr.groups.discovery import walk
from cloudzarr.groups.io import check_format, get_docs
from cloudzarr.groups.paths import ZMETADATA, doc_key, join_path, shown
from cloudzarr.groups.upkeep import (
    Holder,
    _holder_documents,
    _strip,
    apply_updates,
    fetch_holders,
    holder_from_doc,
    is_pending,
    pending_of_doc,
    update_holders,
)
from cloudzarr.metadata.consolidated import ConsolidatedMetadata
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.metadata.node import parse_v2, parse_v3
from cloudzarr.metadata.nodes_io import swap_document
from cloudzarr.metadata.unreadable import UnreadableNode
from cloudzarr.storage.base import Store

if TYPE_CHECKING:
    from cloudzarr.metadata.group import GroupMetadata
    from cloudzarr.metadata.node import NodeMetadata

__all__ = [
    "Holder",
    "apply_updates",
    "consolidate",
    "fetch_holders",
    "holder_from_doc",
    "open_group_metadata",
    "swap_document",
    "update_holders",
]

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
        if node.consolidated_metadata is not None and is_pending(node):
            if use_consolidated is True:
                raise _stale(doc_key(path, "zarr.json"))
            node = node.with_consolidated(None)
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
    if pending_of_doc(cm_doc):
        if use_consolidated is not None:
            raise _stale(doc_key(path, cm_key))
        return group
    cm = ConsolidatedMetadata.from_zmetadata(cm_doc, key=doc_key(path, cm_key))
    return group.with_consolidated(cm)


def _stale(key: str) -> StaleConsolidatedMetadataError:
    return StaleConsolidatedMetadataError(
        f"consolidated metadata in {key!r} is marked pending by a writer that has not finished "
        "(or died midway), so it may not match the store; open without demanding it to walk "
        "the store, or run consolidate_metadata to rebuild it"
    )


async def consolidate(
    store: Store,
    path: str = "",
    zarr_format: int | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
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
        if isinstance(node, UnreadableNode):
            # Consolidated metadata holds parsed documents: one that cannot be parsed is
            # named instead of being dropped silently from the consolidated listing.
            node.raise_error()
        found[rel] = node
        if progress is not None:
            progress(len(found), 0)
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
    if progress is not None:
        progress(len(found), len(found))
    return group.with_consolidated(cm)
