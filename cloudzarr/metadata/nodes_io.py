"""Node documents: reading and parsing them, and changing them by compare-and-swap.

The one module that reads a node's documents (:func:`read_node_or_none`: one round of
concurrent GETs, never a listing) and rewrites an existing node's metadata, for arrays and
groups alike (:mod:`cloudzarr.arrays` and :mod:`cloudzarr.groups` build on it).

Changes
-------

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
import contextlib
import enum
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from cloudzarr.concurrency import gather
from cloudzarr.config import config
from cloudzarr.errors import (
    AmbiguousWriteError,
    ArrayNotFoundError,
    ConcurrentUpdateError,
    ContainsArrayError,
    ContainsGroupError,
    GroupNotFoundError,
    InvalidMetadataError,
    NodeExistsError,
    NodeNotFoundError,
    UnsupportedFormatError,
)
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.jsonio import dump_document, load_document
from cloudzarr.metadata.node import parse_v2, parse_v3, parse_v3_bytes
from cloudzarr.metadata.paths import V2_DOCS, V3_DOCS, doc_key, shown

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
    "check_format",
    "create_node",
    "exists_error",
    "get_doc",
    "get_docs",
    "merge",
    "node_from_v2_docs",
    "read_node",
    "read_node_or_none",
    "remove",
    "replace_all",
    "swap_document",
]


def _shown(path: str) -> str:
    return shown(path)


# --- reading -------------------------------------------------------------------------------


def check_format(zarr_format: object, *, allow_none: bool = True) -> None:
    """Refuse a ``zarr_format`` other than 2, 3 (or None where detection is allowed)."""
    if zarr_format is None and allow_none:
        return
    if isinstance(zarr_format, bool) or zarr_format not in (2, 3):
        choices = "2, 3 or None" if allow_none else "2 or 3"
        raise UnsupportedFormatError(f"zarr_format must be {choices}, got {zarr_format!r}")


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


# --- creating ------------------------------------------------------------------------------


def primary_document(node: NodeMetadata) -> str:
    """The document whose atomic create decides who owns a node's path."""
    if node.zarr_format == 3:
        return "zarr.json"
    return ".zarray" if node.node_type == "array" else ".zgroup"


def exists_error(path: str, kind: str | None) -> NodeExistsError:
    """The error for a node of ``kind`` (``"array"``/``"group"``) found at ``path``."""
    if kind == "array":
        return ContainsArrayError(f"an array already exists at {shown(path)!r}")
    return ContainsGroupError(f"a group already exists at {shown(path)!r}")


def _kind_of(doc: Mapping[str, Any] | None) -> str | None:
    return None if doc is None else str(doc.get("node_type"))


async def create_node(store: Store, path: str, node: NodeMetadata) -> list[str]:
    """Create the node's documents, atomically: of racing creators exactly one wins.

    Format 3: one ``set_if_not_exists`` of ``zarr.json``. Format 2: ``set_if_not_exists`` of
    ``.zarray``/``.zgroup`` together with a GET of the other one (a format 2 group keeps no
    ``.zarray``, so the create alone would not see it), then ``.zattrs`` if there are
    attributes (the create decides who owns the node, so the attributes wait for it).

    Returns
    -------
    list of str
        The keys written.

    Raises
    ------
    ContainsArrayError, ContainsGroupError
        A node exists at ``path``; whatever this call wrote is deleted again first.
    """
    docs = node.to_documents()
    primary = primary_document(node)
    key = doc_key(path, primary)
    if node.zarr_format == 3:
        if await store.set_if_not_exists(key, docs[primary]):
            return [key]
        existing = await store.get(key)
        kind = None
        if existing is not None:
            with contextlib.suppress(InvalidMetadataError):
                kind = _kind_of(load_document(existing, key))
        raise exists_error(path, kind)
    other = ".zgroup" if primary == ".zarray" else ".zarray"
    created, other_raw = await gather(
        store.set_if_not_exists(key, docs[primary]), store.get(doc_key(path, other))
    )
    if not created or other_raw is not None:
        if created:
            await store.delete(key)
        found = primary if not created else other
        raise exists_error(path, "array" if found == ".zarray" else "group")
    if ".zattrs" in docs:
        await store.set(doc_key(path, ".zattrs"), docs[".zattrs"])
        return [key, doc_key(path, ".zattrs")]
    return [key]


# --- changing ------------------------------------------------------------------------------


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
    prepare: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Read ``key`` with its version, apply ``modify`` and write the result back only if
    nobody changed the document meanwhile; on a lost race read again and re-apply.

    Parameters
    ----------
    first
        A ``get_with_version`` result the caller already has (saving the first read).
    what
        What the document is, for the error message (``"array '/a'"``); the key by default.
    prepare
        Awaited after every read of ``key`` and before ``modify``: reads ``modify`` depends
        on, made after the document's own read (so the last swap to win also read last).

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
        if prepare is not None:
            await prepare()
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
        if prepare is not None:
            await prepare()
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
