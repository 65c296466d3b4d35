"""Property-based pickling and dask use of :class:`Array` on random small arrays.

A pickled array must reopen the same store and path with the same metadata and data (and, on
local disk, see later writes made through the original);
``dask.array.from_array(a, chunks=a.chunks)`` must compute the array's values, and
``dask.array.store`` must write a dask array into it (sharded arrays too, writing shard by
shard so no two tasks share a stored object).
"""

from __future__ import annotations

import pickle
import tempfile
from typing import Any

import dask
import dask.array as da
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cloudzarr.arrays import Array, build_array_metadata
from cloudzarr.storage import LocalStore, MemoryStore, Store

from .test_array_properties import (
    array_specs,
    assert_same,
    examples,
    expected_chunk_keys,
    numpy_dtype,
    stored_chunk_keys,
    values,
)


@examples(25)
@given(spec=array_specs(max_ndim=3), local=st.booleans(), data=st.data())
def test_pickled_array_sees_the_same_data(
    spec: dict[str, Any], local: bool, data: st.DataObject
) -> None:
    name = "str" if spec["dtype"] is str else spec["dtype"]
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        store: Store = LocalStore(tmp) if local else MemoryStore()
        spec = {**spec, "attributes": {"k": [1, "v"]}}
        arr = Array.create(store, "p/a", build_array_metadata(**spec))
        first = data.draw(values(name, spec["shape"]), label="first")
        arr[...] = first
        copy = pickle.loads(pickle.dumps(arr))
        assert copy.path == arr.path and copy.metadata == arr.metadata
        assert dict(copy.attrs) == {"k": [1, "v"]}
        assert_same(copy[...], first)
        second = data.draw(values(name, spec["shape"]), label="second")
        arr[...] = second
        if local:
            # The same directory: the copy sees later writes.
            assert copy.store == arr.store
            assert_same(copy[...], second)
        else:
            # A memory store pickles its values: the copy keeps what was there.
            assert_same(copy[...], first)


@examples(25)
@given(spec=array_specs(max_ndim=3), data=st.data())
def test_dask_from_array_and_store(spec: dict[str, Any], data: st.DataObject) -> None:
    name = "str" if spec["dtype"] is str else spec["dtype"]
    store = MemoryStore()
    arr = Array.create(store, "a", build_array_metadata(**spec))
    expected = data.draw(values(name, spec["shape"]), label="values")
    arr[...] = expected
    with dask.config.set(scheduler="threads", num_workers=2):
        lazy = da.from_array(arr, chunks=arr.chunks)
        assert lazy.dtype == numpy_dtype(name) and lazy.shape == arr.shape
        computed = lazy.compute()
        if lazy.ndim == 0:
            # dask hands back a 0-d result as the scalar a[()] returns (a str for strings).
            computed = np.asarray(computed, dtype=expected.dtype)
        assert_same(computed, expected)

        target = Array.create(store, "b", build_array_metadata(**spec))
        # Tasks must not share a stored object: write in storage chunks (shards).
        write_chunks = target.shards or target.chunks
        source = da.from_array(expected, chunks=write_chunks or ())
        da.store(source, target, lock=False)
    assert_same(target[...], expected)
    assert stored_chunk_keys(store, "b") == expected_chunk_keys(target, expected)
