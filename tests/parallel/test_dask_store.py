"""``cloudzarr.dask``: write plans, shard-safe ``store``/``to_zarr``, ``to_dask``, on local
schedulers."""

from __future__ import annotations

import pickle
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
from dask.delayed import Delayed

import cloudzarr
from cloudzarr.dask import (
    aligned_chunks,
    check_plan,
    from_zarr,
    plan_write,
    store,
    to_dask,
    to_zarr,
)
from cloudzarr.errors import InvalidArgumentError, UnsafeWriteError
from cloudzarr.progress import resolve_progress
from cloudzarr.storage import MemoryStore
from cloudzarr.storage.s3 import S3Store
from cloudzarr.storage.transport import client_count


def source(shape: tuple[int, ...], chunks: tuple[int, ...]) -> da.Array:
    return da.arange(int(np.prod(shape)), chunks=-1).reshape(shape).rechunk(chunks)


def test_aligned_chunks_cut_on_the_grid_in_array_coordinates() -> None:
    assert aligned_chunks(((15,) * 6 + (10,),), (0,), (20,)) == ((20, 20, 20, 20, 20),)
    # A region starting at 5: the first block ends on the next multiple of the step.
    assert aligned_chunks(((30, 30, 15),), (5,), (10,)) == ((25, 30, 20),)
    assert aligned_chunks(((4, 4),), (0,), (10,)) == ((8,),)


def test_check_plan_names_array_dimension_and_boundary() -> None:
    check_plan(((20, 20, 5),), (0,), (45,), (20,), "a")  # the short last block ends the array
    with pytest.raises(UnsafeWriteError, match=r"'a'.*dimension 0.*boundary at 15"):
        check_plan(((15, 30),), (0,), (45,), (20,), "a")
    with pytest.raises(UnsafeWriteError, match=r"region along dimension 1 ends at 5"):
        check_plan(((10,), (5,)), (0, 0), (10, 20), (10, 10), "b")
    check_plan(((10,), (5,)), (0, 0), (10, 20), (10, 10), "b", safe_edges=False)


@pytest.mark.parametrize("shards", [None, (20, 30)])
def test_store_writes_exact_data_one_writer_per_object(shards: tuple[int, int] | None) -> None:
    arr = cloudzarr.create_array(
        MemoryStore(), name="x", shape=(100, 60), dtype="i8", chunks=(10, 10), shards=shards
    )
    x = source((100, 60), (15, 17))
    planned, _ = plan_write(x, arr)
    grid = arr.metadata.chunks
    for dim, sizes in enumerate(planned.chunks):
        assert all(s % grid[dim] == 0 for s in sizes[:-1])
    store(x, arr)
    np.testing.assert_array_equal(arr[...], x.compute())


def test_store_refuses_misaligned_blocks_without_rechunk() -> None:
    mem = MemoryStore()
    arr = cloudzarr.create_array(mem, name="x", shape=(40,), dtype="i8", chunks=(5,), shards=(20,))
    before = set(mem._data)
    with pytest.raises(UnsafeWriteError, match=r"boundary at 15 .* grid 20"):
        store(source((40,), (15,)), arr, rechunk=False)
    assert set(mem._data) == before  # refused before any task ran


def test_region_write_and_its_edges() -> None:
    arr = cloudzarr.create_array(MemoryStore(), name="x", shape=(40,), dtype="i8", chunks=(10,))
    store(da.ones(20, chunks=7, dtype="i8"), arr, region=(slice(10, 30),))
    np.testing.assert_array_equal(arr[...], np.r_[np.zeros(10), np.ones(20), np.zeros(10)])
    with pytest.raises(UnsafeWriteError, match="ends at 15"):
        store(da.ones(10, chunks=10, dtype="i8"), arr, region=(slice(15, 25),))
    store(da.ones(5, chunks=5, dtype="i8") * 2, arr, region=(slice(35, 40),), safe_chunks=False)
    assert list(arr[33:40]) == [0, 0, 2, 2, 2, 2, 2]
    with pytest.raises(InvalidArgumentError, match="selects 20 elements but the source has 10"):
        store(da.ones(10, chunks=10, dtype="i8"), arr, region=(slice(0, 20),))


def test_compute_false_writes_then_consolidates_once() -> None:
    mem = MemoryStore()
    cloudzarr.create_group(mem)
    arr = cloudzarr.create_array(mem, name="x", shape=(30,), dtype="i8", chunks=(10,))
    deferred = store(source((30,), (10,)), arr, compute=False, consolidate=True)
    assert isinstance(deferred, Delayed)
    assert "x/c/0" not in mem._data
    dask.compute(deferred, scheduler="threads")
    np.testing.assert_array_equal(arr[...], np.arange(30))
    root = cloudzarr.open_group(mem, mode="r")
    assert root.metadata.consolidated_metadata is not None


def test_progress_reports_each_written_block_in_order() -> None:
    arr = cloudzarr.create_array(MemoryStore(), name="x", shape=(8, 8), dtype="i8", chunks=(4, 4))
    seen: list[tuple[int, int]] = []
    store(source((8, 8), (4, 4)), arr, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_progress_true_draws_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    arr = cloudzarr.create_array(MemoryStore(), name="bar", shape=(8,), dtype="i8", chunks=(4,))
    store(source((8,), (4,)), arr, progress=True)
    out = capsys.readouterr().out
    assert "writing bar" in out and "2/2" in out


def test_bad_progress_and_source_are_typed_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="progress"):
        resolve_progress("yes", 3)  # type: ignore[arg-type]
    arr = cloudzarr.create_array(MemoryStore(), name="x", shape=(3,), dtype="i8")
    with pytest.raises(InvalidArgumentError, match="dask array"):
        store(np.arange(3), arr)  # type: ignore[arg-type]


def test_to_zarr_creates_then_stores(tmp_path: Path) -> None:
    x = source((50, 20), (13, 20))
    arr = to_zarr(x, str(tmp_path / "s"), "a/b", chunks=(5, 10), shards=(25, 20))
    assert isinstance(arr, cloudzarr.Array) and arr.shards == (25, 20)
    back = from_zarr(str(tmp_path / "s"), "a/b")
    assert back.chunks == ((25, 25), (20,))
    np.testing.assert_array_equal(back.compute(), x.compute())
    assert cloudzarr.open_group(str(tmp_path / "s"), mode="r").metadata.consolidated_metadata


def test_to_dask_blocks_follow_shards_and_names_are_stable() -> None:
    mem = MemoryStore()
    arr = cloudzarr.create_array(
        mem, name="x", shape=(12, 12), dtype="f4", chunks=(2, 2), shards=(6, 4)
    )
    arr[...] = np.arange(144, dtype="f4").reshape(12, 12)
    d = to_dask(arr)
    assert d.chunks == ((6, 6), (4, 4, 4))
    assert d.name == to_dask(pickle.loads(pickle.dumps(arr))).name
    assert to_dask(arr, chunks=(3, 12)).chunks == ((3, 3, 3, 3), (12,))
    np.testing.assert_array_equal(d.compute(), arr[...])


def test_unpickled_arrays_share_one_client_per_configuration(s3_store: S3Store) -> None:
    arr = cloudzarr.create_array(s3_store, name="x", shape=(4,), dtype="i8", chunks=(2,))
    arr[...] = np.arange(4)
    clients = client_count()
    blob = pickle.dumps(cloudzarr.open_array(s3_store, path="x", mode="r"))
    copies = [pickle.loads(blob) for _ in range(50)]
    assert [int(c[3]) for c in copies] == [3] * 50
    # No I/O on unpickle and no new client: every copy reuses the process's shared one.
    assert client_count() == clients
