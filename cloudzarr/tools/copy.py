"""Copying a Zarr hierarchy from any store to any store: resumable, metadata last.

Two ways, one promise: an interrupted copy never looks complete, and a re-run finishes it.

- **Object copy** (:func:`copy_objects`): every object is copied as bytes, data objects first
  and concurrently, then the node documents, deepest first and the root's last. A reader opening
  the destination before the end finds no root document (or, for a re-run over an older copy,
  the older documents), never a hierarchy whose chunks are still on their way. A re-run skips
  every object already at the destination with the source's size (``checksum=True`` compares
  the bytes instead), so it sends one listing per side and one HEAD per object present on both.
- **Conversion** (:func:`convert_hierarchy`): for ``--zarr-format 3`` or ``--shards``, every
  array is re-encoded: read in regions of the destination's write unit (a shard, or a chunk)
  and written through an array whose metadata is not yet stored; documents are written after
  all data, the root's last. A re-run skips regions whose destination object exists (each is
  written whole, in one request). Codecs and attributes carry over: v2 compressors and filters
  become the v3 codecs that read the same bytes (``bytes`` + numcodecs), attributes are copied.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cloudzarr.storage import Store

#: The names of node documents (written last); every other key is data.
DOCUMENT_NAMES = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})

Progress = Callable[[int, int | None], None]
#: Grid coordinates and the slices of one write unit.
Region = tuple[tuple[int, ...], tuple[slice, ...]]


@dataclass
class CopyReport:
    """What a copy did."""

    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    documents: int = 0
    converted: bool = False


def is_document(key: str) -> bool:
    """Whether ``key`` is a node document (``zarr.json``, ``.zarray``...)."""
    return key.rsplit("/", 1)[-1] in DOCUMENT_NAMES


def _document_order(key: str) -> tuple[int, int]:
    """Deepest first; in one folder the consolidated ``.zmetadata`` and the group or array
    document after the attributes, so the node becomes visible last."""
    depth = key.count("/")
    name = key.rsplit("/", 1)[-1]
    rank = {".zattrs": 0, ".zarray": 1, ".zgroup": 1, "zarr.json": 1, ".zmetadata": 2}[name]
    return (-depth, rank)


async def _keys(store: Store) -> list[str]:
    return [key async for key in store.list_prefix("")]


async def run_bounded(jobs: Iterable[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    """Run ``jobs`` with at most ``concurrency`` at once; the first failure cancels the rest."""
    queue = iter(jobs)

    async def worker() -> None:
        for job in queue:
            await job()

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, concurrency)):
            group.create_task(worker())


async def copy_objects(
    src: Store,
    dst: Store,
    *,
    concurrency: int = 32,
    checksum: bool = False,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every object of ``src`` to ``dst``, data first, documents last (root last).

    Parameters
    ----------
    src, dst
        The stores; keys keep their names.
    concurrency
        Objects in flight at once.
    checksum
        Compare bytes, not sizes, to decide that an object already at ``dst`` is equal.
    progress
        Called with ``(objects done, total)`` as the copy goes.

    Returns
    -------
    CopyReport
    """
    report = CopyReport()
    src_keys, dst_keys = await asyncio.gather(_keys(src), _keys(dst))
    present = set(dst_keys)
    data = sorted(k for k in src_keys if not is_document(k))
    documents = sorted((k for k in src_keys if is_document(k)), key=_document_order)
    total = len(src_keys)
    done = 0
    tick = progress or (lambda n, t: None)
    tick(0, total)

    async def copy_one(key: str, *, compare_bytes: bool) -> None:
        nonlocal done
        if key in present and await _equal(src, dst, key, compare_bytes):
            report.skipped += 1
        else:
            value = await src.get(key)
            if value is not None:  # deleted from the source meanwhile: nothing to copy
                await dst.set(key, value)
                report.copied += 1
                report.bytes_copied += len(value)
                report.documents += is_document(key)
        done += 1
        tick(done, total)

    await run_bounded(
        (functools.partial(copy_one, k, compare_bytes=checksum) for k in data), concurrency
    )
    # One depth at a time, so that no parent's document lands before its children's.
    for _, level in itertools.groupby(documents, key=lambda k: _document_order(k)):
        batch = list(level)
        await run_bounded(
            (functools.partial(copy_one, k, compare_bytes=True) for k in batch), concurrency
        )
    return report


async def _equal(src: Store, dst: Store, key: str, compare_bytes: bool) -> bool:
    if compare_bytes:
        a, b = await asyncio.gather(src.get(key), dst.get(key))
        return a is not None and a == b
    a_size, b_size = await asyncio.gather(src.getsize(key), dst.getsize(key))
    return a_size == b_size


async def _walk(node: Any) -> AsyncIterator[tuple[str, Any]]:
    """``(path, node)`` for ``node`` and every node below it, relative to ``node``."""
    from cloudzarr.groups import AsyncGroup

    yield "", node
    if isinstance(node, AsyncGroup):
        async for path, child in node.members(max_depth=None):
            yield path, child


def fitted_shards(
    shards: tuple[int, ...] | None, chunks: tuple[int, ...]
) -> tuple[int, ...] | None:
    """``shards`` made a whole number of ``chunks`` (rounded up) for an array of as many
    dimensions; None (unsharded) for an array of another number of dimensions."""
    if shards is None or len(shards) != len(chunks):
        return None
    return tuple(max(c, math.ceil(s / c) * c) for s, c in zip(shards, chunks, strict=True))


def converted_metadata(array: Any, zarr_format: int, shards: tuple[int, ...] | None) -> Any:
    """The metadata of ``array`` in ``zarr_format``, optionally sharded (see
    :func:`fitted_shards`), with the same codecs (as the target format writes them), fill
    value and attributes."""
    from cloudzarr.arrays import build_array_metadata

    meta = array.metadata
    # Without a new shard shape, a sharded source stays sharded as it was.
    shards = fitted_shards(shards, tuple(array.chunks)) if shards else array.shards
    return build_array_metadata(
        shape=array.shape,
        dtype=array.dtype,
        chunks=array.chunks,
        shards=shards,
        compressors=array.compressors or None,
        filters=array.filters or None,
        fill_value=array.fill_value,
        order=getattr(meta, "order", "C") if zarr_format == 2 else "C",
        attributes=dict(meta.attributes),
        dimension_names=getattr(meta, "dimension_names", None) if zarr_format == 3 else None,
        zarr_format=zarr_format,
    )


def converted_group(group: Any, zarr_format: int) -> Any:
    """The metadata of ``group`` in ``zarr_format`` with the same attributes (no consolidated
    metadata: it would describe the source's documents)."""
    from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3

    attributes = dict(group.metadata.attributes)
    if zarr_format == 3:
        return GroupMetadataV3(attributes=attributes)
    return GroupMetadataV2(attributes=attributes)


def _regions(
    shape: tuple[int, ...], unit: tuple[int, ...]
) -> Iterable[tuple[tuple[int, ...], tuple[slice, ...]]]:
    grid = [math.ceil(s / u) if u else 0 for s, u in zip(shape, unit, strict=True)]
    for coords in itertools.product(*(range(g) for g in grid)):
        yield (
            coords,
            tuple(
                slice(c * u, min((c + 1) * u, s))
                for c, u, s in zip(coords, unit, shape, strict=True)
            ),
        )


async def convert_hierarchy(
    src: Store,
    dst: Store,
    *,
    zarr_format: int,
    shards: tuple[int, ...] | None = None,
    concurrency: int = 16,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy the hierarchy (or array) at the root of ``src`` to ``dst`` re-encoded in
    ``zarr_format`` (and sharded by ``shards``), documents last, resumable by region.

    Raises
    ------
    NodeNotFoundError
        No node at the root of ``src``.
    InvalidArgumentError
        ``shards`` that do not fit an array (wrong length, not a multiple of its chunks).
    """
    from cloudzarr.api.asynchronous import open as open_node
    from cloudzarr.arrays.async_array import AsyncArray

    report = CopyReport(converted=True)
    root = await open_node(src, mode="r")
    nodes: list[tuple[str, Any, Any]] = []
    async for path, node in _walk(root):
        if isinstance(node, AsyncArray):
            nodes.append((path, node, converted_metadata(node, zarr_format, shards)))
        else:
            nodes.append((path, node, converted_group(node, zarr_format)))
    present = set(await _keys(dst))
    jobs: list[Callable[[], Awaitable[None]]] = []
    tick = progress or (lambda n, t: None)
    done = 0

    for path, node, meta in nodes:
        if not isinstance(node, AsyncArray):
            continue
        target = AsyncArray(dst, path, meta)
        # The destination's write unit: a shard when sharded, else a chunk.
        for coords, region in _regions(tuple(node.shape), tuple(meta.chunks)):
            key = f"{path}/{meta.chunk_key(coords)}" if path else meta.chunk_key(coords)

            async def job(
                key: str = key,
                region: tuple[slice, ...] = region,
                node: Any = node,
                target: Any = target,
            ) -> None:
                nonlocal done
                if key in present:
                    report.skipped += 1
                else:
                    values = await node.getitem(region)
                    await target.setitem(region, values)
                    report.copied += 1
                done += 1
                tick(done, total)

            jobs.append(job)
    total = len(jobs)
    tick(0, total)
    await run_bounded(jobs, concurrency)
    # Documents deepest first, the root's last.
    for path, _, meta in sorted(nodes, key=lambda n: (n[0] == "", -n[0].count("/"))):
        for name, doc in meta.to_documents().items():
            await dst.set(f"{path}/{name}" if path else name, doc)
            report.documents += 1
    return report
