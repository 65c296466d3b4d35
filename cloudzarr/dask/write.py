"""Shard-safe parallel writes of dask arrays into cloudzarr arrays.

:func:`store` plans the write before any task runs: the source is rechunked (or refused) so
that every stored object (shard, or chunk when unsharded) has exactly one writer; the array's
metadata exists before the first data task; consolidated metadata, if asked for, is written
once, after the last data task. It runs on whatever dask scheduler is active: a
``distributed.Client`` if one is the default, else dask's local schedulers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.callbacks import Callback
from dask.delayed import Delayed, delayed

from cloudzarr.api import synchronous as api
from cloudzarr.arrays import Array
from cloudzarr.dask.plan import WritePlan, aligned_chunks, check_plan, normalize_region
from cloudzarr.errors import InvalidArgumentError
from cloudzarr.progress import ProgressCallback, ProgressReporter, resolve_progress
from cloudzarr.storage import Store

__all__ = ["plan_write", "store", "to_zarr"]


def _write_block(target: Array, selection: tuple[slice, ...], block: Any) -> int:
    """Write one block; runs on a worker (``target`` was unpickled there by configuration)."""
    target[selection] = np.asarray(block)
    return 1


def _consolidate(store_obj: Store, path: str) -> None:
    api.consolidate_metadata(store_obj, path)


def _finish(store_obj: Store, consolidate_path: str | None, written: Sequence[int]) -> int:
    """The last task of a deferred write: consolidates once every data task has finished."""
    if consolidate_path is not None:
        _consolidate(store_obj, consolidate_path)
    return int(sum(written))


def plan_write(
    source: da.Array,
    target: Array,
    *,
    region: Sequence[slice] | None = None,
    rechunk: bool = True,
    safe_chunks: bool = True,
) -> tuple[da.Array, WritePlan]:
    """Plan the write of ``source`` into ``target`` with one writer per stored object.

    Parameters
    ----------
    source
        The dask array to write.
    target
        The array written into (its metadata already stored).
    region
        The part of ``target`` written: one slice per dimension (None: all of it).
    rechunk
        Rechunk a source whose blocks cut stored objects (True), or refuse it (False).
    safe_chunks
        Refuse a region whose edges cut a stored object (see
        :func:`cloudzarr.dask.plan.check_plan`).

    Returns
    -------
    (source, plan)
        The source to write (rechunked if needed) and the placement of its blocks.

    Raises
    ------
    UnsafeWriteError
        If two tasks would write one stored object and ``rechunk`` is False, or the region's
        edges cut stored objects and ``safe_chunks`` is True.
    InvalidArgumentError
        If the source's dtype cannot be written or shapes disagree.
    """
    if not isinstance(source, da.Array):
        raise InvalidArgumentError(
            f"source must be a dask array, got {type(source).__name__}; wrap numpy data "
            "with dask.array.from_array"
        )
    name = target.path or "/"
    offset = normalize_region(region, target.shape, source.shape, name)
    grid = target.metadata.chunks
    if rechunk:
        wanted = aligned_chunks(source.chunks, offset, grid)
        if wanted != source.chunks:
            source = source.rechunk(wanted)
    check_plan(source.chunks, offset, target.shape, grid, name, safe_edges=safe_chunks)
    return source, WritePlan(source.chunks, offset)


def _write_tasks(source: da.Array, target: Array, plan: WritePlan, token: str) -> list[Delayed]:
    blocks = source.to_delayed(optimize_graph=True)
    tasks = []
    for i, index in enumerate(np.ndindex(*blocks.shape)):
        selection = plan.block_selection(index)
        if any(s.stop == s.start for s in selection):
            continue
        task = delayed(_write_block, pure=False)(
            target, selection, blocks[index], dask_key_name=f"cloudzarr-write-{token}-{i}"
        )
        tasks.append(task)
    return tasks


def _default_client() -> Any:
    """The default ``distributed.Client`` when dask is set to use it, else None."""
    if dask.config.get("scheduler", None) not in (None, "dask.distributed", "distributed"):
        return None
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


class _CountWrites(Callback):
    """Advances a progress report when one of our write tasks finishes (local schedulers)."""

    def __init__(self, prefix: str, reporter: ProgressReporter) -> None:
        super().__init__()
        self._prefix = prefix
        self._reporter = reporter

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if isinstance(key, str) and key.startswith(self._prefix):
            self._reporter.advance()


def run_tasks(
    tasks: list[Delayed],
    prefix: str,
    reporter: ProgressReporter,
    scheduler: Any = None,
) -> None:
    """Compute ``tasks`` on the active scheduler, reporting each finished one."""
    client = _default_client() if scheduler is None else None
    if client is not None:
        from distributed import as_completed

        futures = client.compute(tasks)
        try:
            for future in as_completed(futures):
                future.result()  # re-raises the task's error here
                reporter.advance()
        except BaseException:
            client.cancel(futures)
            raise
        return
    with _CountWrites(prefix, reporter):
        dask.compute(*tasks, scheduler=scheduler)


def store(
    source: da.Array,
    target: Array,
    *,
    region: Sequence[slice] | None = None,
    rechunk: bool = True,
    safe_chunks: bool = True,
    consolidate: bool | str = False,
    compute: bool = True,
    progress: bool | ProgressCallback | None = None,
    scheduler: Any = None,
) -> Delayed | None:
    """Write a dask array into a cloudzarr array, one writer per shard (or chunk).

    Parameters
    ----------
    source
        The dask array to write.
    target
        The destination :class:`~cloudzarr.Array` (created beforehand: its metadata is written
        before any data task runs).
    region
        The part of ``target`` to write, one slice per dimension (None: the whole array).
    rechunk
        Rechunk the source so no two tasks write one stored object (True), or raise
        :class:`~cloudzarr.errors.UnsafeWriteError` when they would (False).
    safe_chunks
        Refuse a region whose edges cut a stored object another writer may write.
    consolidate
        Consolidate metadata once, after every data task: True for the store's root group, or
        the path of the group to consolidate; False leaves metadata alone.
    compute
        Write now (True) or return a :class:`dask.delayed.Delayed` whose computation writes
        the data, then consolidates.
    progress
        A ``progress(done, total)`` callback counting written blocks, True for a progress bar,
        None for silence (with ``compute=True`` only).
    scheduler
        A dask scheduler name or ``get`` function (None: the default ``distributed.Client`` if
        any, else dask's configured scheduler).

    Returns
    -------
    None, or the Delayed with ``compute=False``.
    """
    source, plan = plan_write(
        source, target, region=region, rechunk=rechunk, safe_chunks=safe_chunks
    )
    token = uuid.uuid4().hex
    tasks = _write_tasks(source, target, plan, token)
    consolidate_path = _consolidate_path(consolidate)
    if not compute:
        return delayed(_finish, pure=False)(
            target.store, consolidate_path, tasks, dask_key_name=f"cloudzarr-finish-{token}"
        )
    with resolve_progress(progress, len(tasks), f"writing {target.path or '/'}") as reporter:
        run_tasks(tasks, f"cloudzarr-write-{token}-", reporter, scheduler)
    if consolidate_path is not None:
        _consolidate(target.store, consolidate_path)
    return None


def _consolidate_path(consolidate: bool | str) -> str | None:
    if consolidate is True:
        return ""
    if consolidate is False or consolidate is None:
        return None
    if isinstance(consolidate, str):
        return consolidate
    raise InvalidArgumentError(
        f"consolidate must be a bool or a group path, got {type(consolidate).__name__}"
    )


def to_zarr(
    source: da.Array,
    url: str | Store,
    component: str = "",
    *,
    chunks: Sequence[int] | None = None,
    shards: Sequence[int] | None = None,
    overwrite: bool = False,
    zarr_format: int = 3,
    storage_options: Mapping[str, Any] | None = None,
    consolidate: bool = True,
    compute: bool = True,
    progress: bool | ProgressCallback | None = None,
    scheduler: Any = None,
    **array_kwargs: Any,
) -> Array | Delayed:
    """Create an array from a dask array's shape and dtype, then write it shard-safely.

    Like ``dask.array.to_zarr``: the array's chunks default to the source's block shape (its
    largest block per dimension); ``shards`` makes a sharded array whose shards are each
    written by one task. Metadata is written first; consolidated metadata of the store's root
    is written once at the end (``consolidate=True``).

    Returns
    -------
    The :class:`~cloudzarr.Array` (``compute=True``), or a Delayed that writes and
    consolidates.
    """
    if not isinstance(source, da.Array):
        raise InvalidArgumentError(f"source must be a dask array, got {type(source).__name__}")
    if chunks is None:
        chunks = tuple(max(1, int(c)) for c in source.chunksize)
    target = api.create_array(
        url,
        name=component or None,
        shape=source.shape,
        dtype=source.dtype,
        chunks=tuple(chunks),
        shards=tuple(shards) if shards is not None else None,
        overwrite=overwrite,
        zarr_format=zarr_format,
        storage_options=storage_options,
        **array_kwargs,
    )
    result = store(
        source,
        target,
        consolidate="" if consolidate else False,
        compute=compute,
        progress=progress,
        scheduler=scheduler,
    )
    return target if result is None else result
