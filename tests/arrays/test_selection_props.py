"""Differential test of every indexing form against numpy (issue 12).

Random 1-3-d int32 arrays, plain v3, sharded v3 and v2, each with a random chunk (and shard)
shape; random selections of every form, read and written: basic (negative steps included),
orthogonal (integer arrays with repeats and negatives, Boolean masks, slices, integers), the
``a[...]`` dispatch, coordinate (broadcast point arrays), mask and block selections. After every
write the whole array must equal a numpy array given the same assignment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import cloudzarr
from cloudzarr.arrays import Array
from cloudzarr.storage import MemoryStore

from .test_array_properties import examples

LAYOUTS = ["v3", "sharded", "v2"]


@st.composite
def arrays(draw: st.DrawFn) -> tuple[Array, np.ndarray]:
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, n + 1)) for n in shape)
    layout = draw(st.sampled_from(LAYOUTS))
    kwargs: dict[str, Any] = {"zarr_format": 2 if layout == "v2" else 3}
    if layout == "sharded":
        kwargs["shards"] = tuple(c * draw(st.integers(1, 3)) for c in chunks)
    array = cloudzarr.create_array(
        MemoryStore(), name="a", shape=shape, chunks=chunks, dtype="i4", **kwargs
    )
    ref = np.arange(1, int(np.prod(shape)) + 1, dtype="i4").reshape(shape)
    array[...] = ref
    return array, ref


def _dim_index(draw: st.DrawFn, n: int, *, allow_int: bool = True) -> Any:
    kind = draw(
        st.sampled_from(
            ["slice", "ints", "bools", "int"] if allow_int else ["slice", "ints", "bools"]
        )
    )
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    if kind == "ints":
        values = draw(st.lists(st.integers(-n, n - 1), min_size=0, max_size=6))
        return np.array(values, dtype=np.int64) if draw(st.booleans()) else values or [0]
    if kind == "bools":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    start = draw(st.none() | st.integers(-n - 2, n + 2))
    stop = draw(st.none() | st.integers(-n - 2, n + 2))
    step = draw(st.none() | st.sampled_from([1, 2, 3, -1, -2, -3]))
    return slice(start, stop, step)


def _numpy_orthogonal(ref: np.ndarray, selection: tuple[Any, ...]) -> tuple[Any, tuple[int, ...]]:
    """numpy's equivalent of an orthogonal selection: an np.ix_ index and the result shape."""
    arrays, shape = [], []
    for index, n in zip(selection, ref.shape, strict=True):
        positions = np.arange(n)[index]
        if np.ndim(positions) == 0:
            arrays.append(np.array([int(positions)]))
        else:
            arrays.append(positions)
            shape.append(positions.size)
    return np.ix_(*arrays), tuple(shape)


@given(data=st.data(), case=arrays())
@examples(50)
def test_orthogonal_get_and_set(data: st.DataObject, case: tuple[Array, np.ndarray]) -> None:
    array, ref = case
    selection = tuple(_dim_index(data.draw, n) for n in ref.shape)
    index, shape = _numpy_orthogonal(ref, selection)
    expected = ref[index].reshape(shape)
    np.testing.assert_array_equal(array.oindex[selection], expected)
    np.testing.assert_array_equal(array.get_orthogonal_selection(selection), expected)
    value = -np.arange(1, expected.size + 1, dtype="i4").reshape(shape)
    array.oindex[selection] = value
    ref[index] = value.reshape(ref[index].shape)
    np.testing.assert_array_equal(array[...], ref)


@given(data=st.data(), case=arrays())
@examples(40)
def test_basic_and_dispatch_get_and_set(
    data: st.DataObject, case: tuple[Array, np.ndarray]
) -> None:
    array, ref = case
    # At most one array among slices and integers: numpy's and zarr-python's a[...] agree.
    arrays_at = data.draw(st.integers(-1, ref.ndim - 1))
    selection = tuple(
        _dim_index(data.draw, n) if axis == arrays_at else _basic(data.draw, n)
        for axis, n in enumerate(ref.shape)
    )
    if arrays_at >= 0 and isinstance(selection[arrays_at], list) and not selection[arrays_at]:
        return
    expected = ref[selection]
    np.testing.assert_array_equal(array[selection], expected)
    value = -np.arange(1, np.size(expected) + 1, dtype="i4").reshape(np.shape(expected))
    array[selection] = value
    ref[selection] = value
    np.testing.assert_array_equal(array[...], ref)


def _basic(draw: st.DrawFn, n: int) -> Any:
    index = _dim_index(draw, n)
    return index if isinstance(index, int | slice) else slice(None, None, -1)


@given(data=st.data(), case=arrays())
@examples(40)
def test_coordinate_get_and_set(data: st.DataObject, case: tuple[Array, np.ndarray]) -> None:
    array, ref = case
    npoints = data.draw(st.integers(0, 8))
    coords = tuple(
        np.array(
            data.draw(st.lists(st.integers(-n, n - 1), min_size=npoints, max_size=npoints)),
            dtype=np.int64,
        )
        for n in ref.shape
    )
    if npoints % 2 == 0 and npoints:
        coords = tuple(c.reshape(2, -1) for c in coords)  # a 2-d point grid
    expected = ref[coords]
    np.testing.assert_array_equal(array.vindex[coords], expected)
    np.testing.assert_array_equal(array.get_coordinate_selection(coords), expected)
    # Distinct points for writes: numpy and cloudzarr may order repeats differently.
    flat = np.ravel_multi_index(
        tuple(c.reshape(-1) % n for c, n in zip(coords, ref.shape, strict=True)), ref.shape
    )
    _, first = np.unique(flat, return_index=True)
    points = tuple(c.reshape(-1)[first] for c in coords)
    value = -np.arange(1, first.size + 1, dtype="i4")
    array.vindex[points] = value
    ref[points] = value
    np.testing.assert_array_equal(array[...], ref)


@given(data=st.data(), case=arrays())
@examples(30)
def test_mask_get_and_set(data: st.DataObject, case: tuple[Array, np.ndarray]) -> None:
    array, ref = case
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=ref.size, max_size=ref.size)))
    mask = mask.reshape(ref.shape)
    np.testing.assert_array_equal(array.vindex[mask], ref[mask])
    np.testing.assert_array_equal(array.get_mask_selection(mask), ref[mask])
    np.testing.assert_array_equal(array[mask], ref[mask])
    value = -np.arange(1, int(mask.sum()) + 1, dtype="i4")
    array.set_mask_selection(mask, value)
    ref[mask] = value
    np.testing.assert_array_equal(array[...], ref)


@given(data=st.data(), case=arrays())
@examples(30)
def test_block_get_and_set(data: st.DataObject, case: tuple[Array, np.ndarray]) -> None:
    array, ref = case
    selection, region = [], []
    for n, c in zip(ref.shape, array.chunks, strict=True):
        nblocks = -(-n // c)
        if data.draw(st.booleans()):
            b = data.draw(st.integers(-nblocks, nblocks - 1))
            selection.append(b)
            b %= nblocks
            region.append(slice(b * c, (b + 1) * c))
        else:
            start = data.draw(st.integers(0, nblocks))
            stop = data.draw(st.integers(0, nblocks))
            selection.append(slice(start, stop))
            region.append(slice(start * c, max(start, stop) * c))
    expected = ref[tuple(region)]
    np.testing.assert_array_equal(array.blocks[tuple(selection)], expected)
    value = -np.arange(1, expected.size + 1, dtype="i4").reshape(expected.shape)
    array.blocks[tuple(selection)] = value
    ref[tuple(region)] = value
    np.testing.assert_array_equal(array[...], ref)
