"""Property-based interop with zarr-python 3.4.2 on local disk, both directions.

A random array (shape, chunks, shards, format, order, dtype, fill value, attributes, dimension
names) takes a random sequence of writes through one library; the other library, opening the
same directory, must see the same values, fill value, attributes and dimension names, and both
must count the same initialized chunks (all-fill chunks are never stored, and a chunk written
back to all fill value is deleted).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from hypothesis import given
from hypothesis import strategies as st

from cloudzarr.arrays import Array, build_array_metadata
from cloudzarr.storage import LocalStore

from .test_array_properties import (
    array_specs,
    assert_same,
    broadcastable_shape,
    examples,
    expected_chunk_keys,
    expected_fill,
    numpy_dtype,
    scalars,
    selections,
    stored_chunk_keys,
    values,
)

_json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=5)
json_values = st.recursive(
    _json_leaf | st.floats(allow_nan=False, allow_infinity=False, width=64),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def interop_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(array_specs(max_ndim=3))
    spec["attributes"] = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3))
    if spec["zarr_format"] == 3 and draw(st.booleans()):
        names = st.none() | st.text(max_size=3)
        spec["dimension_names"] = tuple(draw(names) for _ in spec["shape"])
    return spec


def zarr_python_selection(sel: Any) -> Any:
    """The selection in the subset zarr-python takes: negative slice steps made positive (it
    refuses them) and 0-d index arrays as ints (it takes them for orthogonal indexing)."""

    def fix(s: Any) -> Any:
        if isinstance(s, slice) and s.step is not None and s.step < 0:
            return slice(s.start, s.stop, -s.step)
        if isinstance(s, np.ndarray):
            return int(s)
        return s

    return tuple(fix(s) for s in sel) if isinstance(sel, tuple) else fix(sel)


def _write_sequence(
    data: st.DataObject, spec: dict[str, Any], target: Any, steps: int, *, numpy_steps: bool
) -> np.ndarray:
    name = "str" if spec["dtype"] is str else spec["dtype"]
    model = np.full(spec["shape"], expected_fill(spec), dtype=numpy_dtype(name))
    for _ in range(steps):
        sel = data.draw(selections(spec["shape"]), label="selection")
        if not numpy_steps:
            sel = zarr_python_selection(sel)
        region = model[sel]
        shape = region.shape if isinstance(region, np.ndarray) else ()
        if not numpy_steps and 0 in shape:
            # zarr-python 3.4.2 fails to broadcast into selections of size 0.
            continue
        if data.draw(st.booleans(), label="scalar"):
            # Often the fill value itself: chunks written back to all fill must disappear.
            value: Any = data.draw(st.just(expected_fill(spec)) | scalars(name), label="value")
        else:
            value = data.draw(values(name, broadcastable_shape(data.draw, shape)), label="value")
            if not numpy_steps:
                # zarr-python 3.4.2 does not broadcast arrays of fewer dimensions.
                value = np.broadcast_to(value, shape).copy()
        target[sel] = value
        model[sel] = value
    return model


def _zarr_fill(z: zarr.Array) -> Any:
    fill = z.fill_value
    if fill is None:  # v2 documents may hold null; zarr-python then reads zeros / ""
        return "" if z.dtype.kind == "T" else np.zeros((), z.dtype)[()]
    return fill


def _assert_same_fill(ours: Any, theirs: Any, dtype: np.dtype[Any]) -> None:
    assert_same(np.asarray(ours, dtype=dtype), np.asarray(theirs, dtype=dtype))


def _compare(arr: Array, z: zarr.Array, model: np.ndarray, spec: dict[str, Any]) -> None:
    assert arr.shape == z.shape == model.shape
    assert arr.chunks == z.chunks
    assert arr.shards == z.shards
    assert arr.dtype == z.dtype
    assert_same(arr[...], model)
    # zarr-python returns a 0-d selection as a scalar; compare its values only.
    assert_same(np.asarray(z[...], dtype=model.dtype), model)
    _assert_same_fill(arr.fill_value, _zarr_fill(z), arr.dtype)
    assert dict(arr.attrs) == dict(z.attrs) == spec["attributes"]
    theirs_names = getattr(z.metadata, "dimension_names", None)
    assert arr.dimension_names == (None if theirs_names is None else tuple(theirs_names))
    # zarr-python writes no dimension names for a 0-d array given an empty tuple.
    assert (arr.dimension_names or None) == (spec.get("dimension_names") or None)
    if spec.get("shards") is None:
        # Sharded arrays count differently (see the report): only unsharded ones here.
        assert arr.nchunks_initialized == z.nchunks_initialized


@examples(40)
@given(spec=interop_specs(), data=st.data())
def test_written_by_cloudzarr_read_by_zarr_python(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        arr = Array.create(LocalStore(tmp), "a", build_array_metadata(**spec))
        model = _write_sequence(data, spec, arr, steps=4, numpy_steps=True)
        z = zarr.open_array(zarr.storage.LocalStore(tmp, read_only=True), path="a", mode="r")
        _compare(Array.open(LocalStore(tmp), "a"), z, model, spec)


@examples(40)
@given(spec=interop_specs(), data=st.data())
def test_written_by_zarr_python_read_by_cloudzarr(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        kwargs = dict(spec)
        kwargs.setdefault("order", None)
        z = zarr.create_array(zarr.storage.LocalStore(tmp), name="a", **kwargs)
        model = _write_sequence(data, spec, z, steps=4, numpy_steps=False)
        arr = Array.open(LocalStore(tmp), "a")
        _compare(arr, zarr.open_array(Path(tmp) / "a", mode="r"), model, spec)


def test_sharded_chunk_counts_match_zarr_python() -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        spec = {"shape": (9,), "dtype": "i4", "chunks": (2,), "shards": (4,), "fill_value": -1}
        arr = Array.create(LocalStore(tmp), "a", build_array_metadata(**spec))
        arr[8] = 1
        z = zarr.open_array(zarr.storage.LocalStore(tmp, read_only=True), path="a", mode="r")
        assert (arr.nchunks, arr.cdata_shape) == (z.nchunks, z.cdata_shape)  # zarr: 5, (5,)
        assert arr.nchunks_initialized == z.nchunks_initialized  # zarr: 2
        assert (arr.nshards, arr.nshards_initialized) == (3, 1)


@examples(30)
@given(spec=interop_specs(), data=st.data())
def test_mixed_writers_agree(spec: dict[str, Any], data: st.DataObject) -> None:
    # Each write goes through either library, so each partially updates chunks (and shards)
    # the other encoded; both must then read the model.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        z = zarr.create_array(zarr.storage.LocalStore(tmp), name="a", **{"order": None, **spec})
        ours = Array.open(LocalStore(tmp), "a")

        class Either:
            def __setitem__(self, sel: Any, value: Any) -> None:
                if data.draw(st.booleans(), label="through zarr-python"):
                    z[sel] = value
                else:
                    ours[sel] = value

        model = _write_sequence(data, spec, Either(), steps=5, numpy_steps=False)
        _compare(Array.open(LocalStore(tmp), "a"), z, model, spec)


def _zarr_python_keeps(region: np.ndarray, fill: Any) -> bool:
    """Whether zarr-python 3.4.2 stores a chunk: unless it equals the fill with NaN == NaN
    (so it, unlike cloudzarr, drops a chunk of -0.0 under a 0.0 fill, or nan+1j under nan+0j)."""
    if region.dtype.kind == "T":
        return not bool(np.all(region == np.asarray(fill, dtype=region.dtype)))
    equal_nan = region.dtype.kind in "fc"
    return not np.array_equal(region, np.full_like(region, fill), equal_nan=equal_nan)


@examples(30)
@given(spec=interop_specs(), data=st.data())
def test_same_writes_store_the_same_chunks(spec: dict[str, Any], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        ours = Array.create(LocalStore(tmp), "ours", build_array_metadata(**spec))
        z = zarr.create_array(
            zarr.storage.LocalStore(tmp), name="theirs", **{"order": None, **spec}
        )

        class Both:
            def __setitem__(self, sel: Any, value: Any) -> None:
                ours[sel] = value
                z[sel] = value

        model = _write_sequence(data, spec, Both(), steps=5, numpy_steps=False)
        assert_same(ours[...], model)
        ours_keys = {k.split("/", 1)[1] for k in stored_chunk_keys(LocalStore(tmp), "ours")}
        theirs_keys = {k.split("/", 1)[1] for k in stored_chunk_keys(LocalStore(tmp), "theirs")}
        assert ours_keys == {k.split("/", 1)[1] for k in expected_chunk_keys(ours, model)}
        # The same chunks, except those holding -0.0 under a 0.0 fill or a complex number with
        # one NaN part under a NaN fill: cloudzarr keeps them, zarr-python may drop them.
        grid = ours.metadata.chunks
        for coords in np.ndindex(*ours.shard_grid_shape):
            cut = tuple(slice(k * c, (k + 1) * c) for k, c in zip(coords, grid, strict=True))
            key = ours.metadata.chunk_key(coords)
            zarr_keeps = _zarr_python_keeps(model[(*cut, Ellipsis)], ours.fill_value)
            if (key in ours_keys) == zarr_keeps:
                assert (key in theirs_keys) == zarr_keeps, key
        if spec.get("shards") is None:
            assert ours.nchunks_initialized == len(ours_keys)
            assert z.nchunks_initialized == len(theirs_keys)
