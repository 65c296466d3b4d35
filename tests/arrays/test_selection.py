"""Orthogonal, coordinate, mask and block selections: exact request counts, errors, and
agreement with zarr-python 3.4.2 on the same stored array."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import zarr

import cloudzarr
from cloudzarr.errors import IndexingError
from cloudzarr.interop import as_zarr_store
from cloudzarr.storage import MemoryStore, Store

REF = np.arange(100, dtype="i4").reshape(10, 10)


def _array(store: Store, **kwargs: Any) -> cloudzarr.Array:
    kwargs.setdefault("chunks", (2, 2))
    array = cloudzarr.create_array(store, name="a", shape=(10, 10), dtype="i4", **kwargs)
    array[...] = REF
    return array


def test_reads_fetch_only_the_chunks_touched() -> None:
    store = MemoryStore()
    array = _array(store)
    cases: list[tuple[Any, Any, int]] = [
        (lambda: array.oindex[[0, 9], [0, 9]], REF[np.ix_([0, 9], [0, 9])], 4),
        (lambda: array.oindex[[9, 0, 0], 3], REF[[9, 0, 0], 3], 2),
        (lambda: array.vindex[[0, 9, 1], [0, 9, 1]], REF[[0, 9, 1], [0, 9, 1]], 2),
        (lambda: array[REF % 37 == 0], REF[REF % 37 == 0], 3),  # 0, 37, 74
        (lambda: array.blocks[1, 2], REF[2:4, 4:6], 1),
        (lambda: array[[1, 8]], REF[[1, 8]], 10),  # two rows of five chunks
    ]
    for read, expected, chunks in cases:
        store.requests.reset()
        np.testing.assert_array_equal(read(), expected)
        assert store.requests.snapshot() == {"get": chunks}


def test_writes_touch_only_their_chunks_and_skip_reads_of_covered_ones() -> None:
    store = MemoryStore()
    array = _array(store)
    store.requests.reset()
    array.oindex[[0, 9], [0, 9]] = -1  # four partial chunks: read, merge, write
    assert store.requests.snapshot() == {"get": 4, "set": 4}
    store.requests.reset()
    array.oindex[[1, 0], [0, 1]] = [[5, 6], [7, 8]]  # covers chunk (0, 0): no read
    assert store.requests.snapshot() == {"set": 1}
    store.requests.reset()
    array.vindex[[3, 3], [4, 5]] = [1, 2]
    assert store.requests.snapshot() == {"get": 1, "set": 1}
    expected = REF.copy()
    expected[np.ix_([0, 9], [0, 9])] = -1
    expected[np.ix_([1, 0], [0, 1])] = [[5, 6], [7, 8]]
    expected[[3, 3], [4, 5]] = [1, 2]
    np.testing.assert_array_equal(array[...], expected)


def test_sharded_point_reads_fetch_the_index_and_one_inner_chunk() -> None:
    store = MemoryStore()
    array = _array(store, shards=(10, 10))
    store.requests.reset()
    assert array.vindex[[7], [3]].tolist() == [73]
    assert store.requests.snapshot() == {"get": 2}  # shard index + one inner chunk
    store.requests.reset()
    array.vindex[[7, 0], [3, 0]] = [-73, -1]  # one shard: one read, one write
    assert store.requests.snapshot() == {"get": 1, "set": 1}
    expected = REF.copy()
    expected[[7, 0], [3, 0]] = [-73, -1]
    np.testing.assert_array_equal(array[...], expected)


def test_s3_orthogonal_read_counts(s3_store: Store) -> None:
    array = _array(s3_store)
    s3_store.requests.reset()
    np.testing.assert_array_equal(array.oindex[[0, 5], 2:6], REF[[0, 5], 2:6])
    assert s3_store.requests.snapshot() == {"GetObject": 4}


@pytest.mark.parametrize(
    ("select", "match"),
    [
        (lambda a: a[np.ones((3, 4), bool)], r"array '/a': Boolean mask of shape \(3, 4\)"),
        (lambda a: a.oindex[[0, 12], :], r"array '/a': index 12 is out of bounds for axis 0"),
        (lambda a: a.vindex[[0, 1], [-11, 2]], r"index -11 is out of bounds for axis 1"),
        (lambda a: a.oindex[np.ones(9, bool), 0], r"Boolean index of shape \(9,\) .* axis 0"),
        (lambda a: a[np.array([0.5]), 0], r"array '/a': .*use a\.oindex"),
        (lambda a: a.blocks[0:4:2], r"only slices with step 1"),
        (lambda a: a.blocks[5], r"block index 5 is out of bounds for axis 0 with 5 blocks"),
        (lambda a: a.vindex[[0, 1], [0, 1, 2]], r"cannot be broadcast"),
        (lambda a: a.get_coordinate_selection((slice(None), [1])), r"not slice"),
    ],
)
def test_errors_name_the_array_and_the_index_in_one_short_line(select: Any, match: str) -> None:
    array = _array(MemoryStore())
    with pytest.raises(IndexingError, match=match) as info:
        select(array)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200 and "True" not in message


SELECTIONS: list[Any] = [
    ([1, 3],),
    (np.array([9, 0, 0]), slice(1, None, 2)),  # zarr-python refuses negative steps here
    (slice(2, 8), [0, 5, 9]),
    ([1, 2], [3, 4]),  # points: vindex in zarr-python's dispatch
    (REF > 50,),
    (4, [1, 2]),
]


@pytest.mark.filterwarnings("ignore::zarr.errors.ZarrUserWarning")
@pytest.mark.parametrize("selection", SELECTIONS, ids=range(len(SELECTIONS)))
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_getitem_dispatch_agrees_with_zarr_python(selection: Any, zarr_format: int) -> None:
    store = MemoryStore()
    array = _array(store, zarr_format=zarr_format)
    theirs = zarr.open_array(as_zarr_store(store), path="a", mode="r+")
    sel = selection[0] if len(selection) == 1 else selection
    np.testing.assert_array_equal(array[sel], theirs[sel])
    if not (isinstance(sel, np.ndarray) and sel.ndim == 2):  # both refuse a 2-d oindex mask
        np.testing.assert_array_equal(array.oindex[sel], theirs.oindex[sel])
    np.testing.assert_array_equal(array.blocks[1:3, 2], theirs.blocks[1:3, 2])
    # Writes through one library read back through the other.
    array[sel] = -7
    np.testing.assert_array_equal(theirs[...], array[...])


async def test_fancy_chunk_requests_run_concurrently_under_the_store_limiter() -> None:
    from cloudzarr.storage import LatencyStore

    inner = MemoryStore(concurrency=3)
    array = _array(inner)
    slow = cloudzarr.AsyncArray(LatencyStore(inner, latency=0.005), "a", array.metadata)
    mask = np.zeros((10, 10), bool)
    mask[::2, ::2] = True  # one element in each of the 25 chunks
    inner.requests.reset()
    inner.limiter.reset_peak()
    np.testing.assert_array_equal(await slow.get_mask_selection(mask), REF[mask])
    assert inner.requests.snapshot() == {"get": 25}
    assert inner.limiter.peak_in_flight == 3  # batched, and bounded by the store's limiter
    inner.limiter.reset_peak()
    await slow.set_orthogonal_selection((slice(None, None, 2), [0, 2, 4, 6, 8]), 1)
    assert inner.limiter.peak_in_flight == 3
