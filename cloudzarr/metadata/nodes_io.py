"""Changing node documents by compare-and-swap: the one place a node's metadata is rewritten.

Every change to an existing node's metadata (attributes set, updated or deleted, a resize, an
append's resize) is a *change function* applied to the document as it is in the store now, not
to a copy a handle cached earlier:

1. the document is read with its version (``get_with_version``: one GET carrying the ETag,
   generation or local version);
2. the change is applied to what was read;
3. the result is written back with ``set_if_version`` (one conditional PUT);
4. if another writer changed the document meanwhile the write is refused: back to 1, with the
   change re-applied to the other writer's result, at most ``metadata.cas_attempts`` times
   (:mod:`cloudzarr.config`), then :class:`~cloudzarr.errors.ConcurrentUpdateError` naming the
   node. An :class:`~cloudzarr.errors.AmbiguousWriteError` (a lost response whose retry found
   another value) also goes back to 1; every change here is idempotent on what it reads.

Which document: format 3 keeps everything in ``zarr.json``. Format 2 keeps attributes in
``.zattrs`` and the array's shape in ``.zarray``, so an attribute change swaps ``.zattrs`` only and
a resize swaps ``.zarray`` only: the two never conflict.

**Stores without compare-and-swap** (``supports_compare_and_swap`` False: fsspec over a protocol
other than ``file`` and ``memory``) get a plain read-modify-write: last writer wins, and two
processes changing one document at the same moment can lose one change. This is the documented
behaviour rather than a refusal, so such stores stay writable by one process.

Costs when nobody else writes: 1 GET + 1 conditional PUT per change (a format 2 attribute change
that empties the attributes keeps an empty ``{}`` ``.zattrs`` rather than deleting it, so the
delete too is conditional).
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cloudzarr.config import config
from cloudzarr.errors import (
    AmbiguousWriteError,
    ArrayNotFoundError,
    ConcurrentUpdateError,
    GroupNotFoundError,
    InvalidMetadataError,
    NodeNotFoundError,
)
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.jsonio import dump_document, load_document
from cloudzarr.metadata.node import parse_v2, parse_v3

if TYPE_CHECKING:
    from cloudzarr.metadata.node import NodeMetadata
    from cloudzarr.storage.base import Store, Version

__all__ = [
    "DELETE",
    "AttributesChange",
    "Modify",
    "NodeChange",
    "change_attributes",
    "change_node",
    "doc_key",
    "swap_document",
]


def doc_key(path: str, name: str) -> str:
    """The store key of the document ``name`` of the node at ``path``."""
    return f"{path}/{name}" if path else name


def _shown(path: str) -> str:
    return "/" + path


class _Delete(enum.Enum):
    """What a :func:`swap_document` modifier returns to delete the document."""

    DELETE = "delete"


DELETE = _Delete.DELETE

#: Turns a document's current bytes (None: missing) into its new bytes; None leaves it as it
#: is, :data:`DELETE` deletes it (plainly: a missing document is never stale).
Modify = Callable[[bytes | None], "bytes | _Delete | None"]

#: A change of a node's whole metadata, applied to what the store holds now.
NodeChange = Callable[["NodeMetadata"], "NodeMetadata"]

#: A change of a node's attributes (a plain dict in, the new plain dict out).
AttributesChange = Callable[[dict[str, Any]], dict[str, Any]]

_UNREAD: Any = object()


def cas_attempts() -> int:
    """How many times one read-modify-write is tried before ConcurrentUpdateError."""
    return int(config.get("metadata.cas_attempts"))


async def swap_document(
    store: Store,
    key: str,
    modify: Modify,
    *,
    first: tuple[bytes, Version] | None = _UNREAD,
    what: str | None = None,
) -> None:
    """Read ``key`` with its version, apply ``modify`` and write the result back only if
    nobody changed the document meanwhile; on a lost race read again and re-apply.

    Parameters
    ----------
    first
        A ``get_with_version`` result the caller already has (saving the first read).
    what
        What the document is, for the error message (``"array '/a'"``); the key by default.

    Notes
    -----
    ``modify`` must be idempotent: after an :class:`~cloudzarr.errors.AmbiguousWriteError` it
    is applied to a document that may already carry its change. On a store without
    compare-and-swap this is a plain read and write (last writer wins).

    Raises
    ------
    ConcurrentUpdateError
        The document changed under this writer ``metadata.cas_attempts`` times in a row.
    """
    if not store.supports_compare_and_swap:
        raw = await store.get(key)
        new = modify(raw)
        if new is DELETE:
            await store.delete(key)
        elif new is not None and new != raw:
            await store.set(key, new)
        return
    got = first
    attempts = cas_attempts()
    for attempt in range(attempts):
        if attempt or got is _UNREAD:
            got = await store.get_with_version(key)
        raw = None if got is None else got[0]
        new = modify(raw)
        if new is DELETE:
            await store.delete(key)
            return
        if new is None or new == raw:
            return  # nothing to change, or the change is already there
        try:
            if await store.set_if_version(key, new, None if got is None else got[1]):
                return
        except AmbiguousWriteError:
            pass  # read again: applying the change a second time is harmless
        # Lost to another writer: back off a little (random, so racers spread out) and retry.
        await asyncio.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.1)))
    raise ConcurrentUpdateError(
        f"{what or repr(key)} ({key!r} in {store!r}) changed under this writer {attempts} times "
        "in a row; the change was not applied"
    )


def _missing(path: str, node_type: str | None) -> NodeNotFoundError:
    if node_type == "array":
        return ArrayNotFoundError(f"array {_shown(path)!r} no longer exists")
    if node_type == "group":
        return GroupNotFoundError(f"group {_shown(path)!r} no longer exists")
    return NodeNotFoundError(f"node {_shown(path)!r} no longer exists")


def _named(exc: InvalidMetadataError, path: str, node_type: str) -> InvalidMetadataError:
    # Typically an attribute JSON cannot hold (a numpy scalar, NaN): say which node.
    text = str(exc)
    if repr(_shown(path)) in text:
        return exc
    return InvalidMetadataError(f"{node_type} {_shown(path)!r}: {text}")


async def change_node(
    store: Store, path: str, node: NodeMetadata, change: NodeChange
) -> tuple[NodeMetadata, NodeMetadata]:
    """Apply ``change`` to the stored metadata of the node at ``path`` by compare-and-swap.

    Format 3 swaps ``zarr.json``; format 2 swaps ``.zarray`` (an array; the attributes in
    ``.zattrs`` are left alone and taken from ``node``) or ``.zgroup`` (a group).

    Parameters
    ----------
    node
        The caller's cached metadata: gives the format and kind (and format 2 attributes).
    change
        Applied to the metadata as stored now (again after every lost race).

    Returns
    -------
    before, after
        The stored metadata the winning swap read, and what it wrote.

    Raises
    ------
    NodeNotFoundError
        The node's document is gone (ArrayNotFoundError / GroupNotFoundError by kind).
    ConcurrentUpdateError
        See :func:`swap_document`.
    InvalidMetadataError
        The changed metadata cannot be written (names the node).
    """
    fmt = node.zarr_format
    name = "zarr.json" if fmt == 3 else ".zarray" if node.node_type == "array" else ".zgroup"
    key = doc_key(path, name)
    seen: list[tuple[NodeMetadata, NodeMetadata]] = []

    def modify(raw: bytes | None) -> bytes:
        if raw is None:
            raise _missing(path, node.node_type)
        doc = load_document(raw, key)
        if fmt == 3:
            stored = parse_v3(doc, path)
        elif node.node_type == "array":
            stored = parse_v2(doc, None, None, path).with_attributes(node.attributes)
        else:
            stored = node
        new = change(stored)
        seen.append((stored, new))
        try:
            return new.to_documents()[name]
        except InvalidMetadataError as exc:
            raise _named(exc, path, node.node_type) from None

    await swap_document(store, key, modify, what=f"{node.node_type} {_shown(path)!r}")
    return seen[-1]


async def change_attributes(
    store: Store,
    path: str,
    node: NodeMetadata,
    change: AttributesChange,
    *,
    first: tuple[bytes, Version] | None = _UNREAD,
) -> NodeMetadata:
    """Apply ``change`` to the stored attributes of the node at ``path`` by compare-and-swap.

    Format 3 swaps ``zarr.json`` (keeping everything else in it, a group's consolidated
    metadata included, as stored now); format 2 swaps ``.zattrs``.

    Parameters
    ----------
    node
        The caller's cached metadata (format, kind; the rest of a format 2 node).
    first
        A ``get_with_version`` of the document the caller already made.

    Returns
    -------
    NodeMetadata
        The node's metadata with the attributes as written (format 3: everything as stored).

    Raises
    ------
    NodeNotFoundError
        Format 3: ``zarr.json`` is gone.
    ConcurrentUpdateError, InvalidMetadataError
        As for :func:`change_node`.
    """
    if node.zarr_format == 3:

        def whole(stored: NodeMetadata) -> NodeMetadata:
            return stored.with_attributes(change(thaw(stored.attributes)))

        if first is _UNREAD:
            return (await change_node(store, path, node, whole))[1]
        return await _change_v3_from(store, path, node, whole, first)
    key = doc_key(path, ".zattrs")
    result: list[dict[str, Any]] = []

    def modify(raw: bytes | None) -> bytes | None:
        current = {} if raw is None else load_document(raw, key)
        new = change(dict(current))
        result.append(new)
        if raw is None and not new:
            return None  # nothing stored, nothing to store
        try:
            return dump_document(new)
        except InvalidMetadataError as exc:
            raise _named(exc, path, node.node_type) from None

    await swap_document(
        store, key, modify, first=first, what=f"{node.node_type} {_shown(path)!r} attributes"
    )
    return node.with_attributes(result[-1])


async def _change_v3_from(
    store: Store,
    path: str,
    node: NodeMetadata,
    change: NodeChange,
    first: tuple[bytes, Version] | None,
) -> NodeMetadata:
    key = doc_key(path, "zarr.json")
    seen: list[NodeMetadata] = []

    def modify(raw: bytes | None) -> bytes:
        if raw is None:
            raise _missing(path, node.node_type)
        new = change(parse_v3(load_document(raw, key), path))
        seen.append(new)
        try:
            return new.to_documents()["zarr.json"]
        except InvalidMetadataError as exc:
            raise _named(exc, path, node.node_type) from None

    await swap_document(store, key, modify, first=first, what=f"{node.node_type} {_shown(path)!r}")
    return seen[-1]


def merge(new: Mapping[str, Any]) -> AttributesChange:
    """The change that sets the keys of ``new``."""
    items = dict(new)
    return lambda current: {**current, **items}


def replace_all(new: Mapping[str, Any]) -> AttributesChange:
    """The change that replaces every attribute with ``new``."""
    items = dict(new)
    return lambda current: dict(items)


def remove(*keys: str) -> AttributesChange:
    """The change that deletes ``keys`` (those already gone are ignored)."""
    gone = set(keys)
    return lambda current: {k: v for k, v in current.items() if k not in gone}
