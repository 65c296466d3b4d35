"""AsyncArray / Array behaviour on a MemoryStore: values, fill, RMW, empty chunks, metadata."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from cloudzarr.arrays import Array, AsyncArray, build_array_metadata
from cloudzarr.errors import (
    ArrayNotFoundError,
    ArrayShapeError,
    ContainsArrayError,
    ContainsGroupError,
    IndexingError,
    NodeTypeError,
    ReadOnlyError,
    UnsupportedDataTypeError,
    UnsupportedFormatError,
)
from cloudzarr.metadata.group import GroupMetadataV3
from cloudzarr.storage import MemoryStore
from cloudzarr.storage.latency import LatencyStore


def chunk_keys(store: MemoryStore, path: str = "a") -> list[str]:
    docs = {"zarr.json", ".zarray", ".zattrs"}
    return sorted(
        k for k in store._data if k.startswith(path + "/") and k.split("/")[-1] not in docs
    )


async def make(store: MemoryStore, path: str = "a", **kwargs: Any) -> AsyncArray:
    kwargs.setdefault("shape", (10, 12))
    kwargs.setdefault("dtype", "int32")
    kwargs.setdefault("chunks", (4, 5))
    return await AsyncArray.create(store, path, build_array_metadata(**kwargs))


@pytest.mark.parametrize("zarr_format", [2, 3])
async def test_roundtrip_and_missing_chunks_read_fill(zarr_format: int) -> None:
    store = MemoryStore()
    arr = await make(store, zarr_format=zarr_format, fill_value=7)
    np.testing.assert_array_equal(await arr.getitem(...), np.full((10, 12), 7))
    assert chunk_keys(store) == []
    data = np.arange(120, dtype=np.int32).reshape(10, 12)
    await arr.setitem(..., data)
    np.testing.assert_array_equal(await arr.getitem(...), data)
    assert len(chunk_keys(store)) == 9
    reopened = await AsyncArray.open(store, "a")
    assert reopened.zarr_format == zarr_format
    np.testing.assert_array_equal(await reopened.getitem((slice(1, 9, 3), -1)), data[1:9:3, -1])


async def test_partial_write_reads_modifies_writes() -> None:
    store = MemoryStore()
    arr = await make(store)
    data = np.arange(120, dtype=np.int32).reshape(10, 12)
    await arr.setitem(..., data)
    store.requests.reset()
    await arr.setitem((slice(1, 3), slice(2, 4)), -1)  # inside chunk (0, 0)
    data[1:3, 2:4] = -1
    assert store.requests.snapshot() == {"get": 1, "set": 1}
    np.testing.assert_array_equal(await arr.getitem(...), data)


async def test_complete_chunk_write_does_not_read() -> None:
    store = MemoryStore()
    arr = await make(store)
    store.requests.reset()
    await arr.setitem((slice(0, 4), slice(0, 10)), 3)  # chunks (0,0) and (0,1) exactly
    assert store.requests.snapshot() == {"set": 2}
    # An edge chunk is complete when its in-bounds part is covered.
    store.requests.reset()
    await arr.setitem((slice(8, 10), slice(10, 12)), 4)
    assert store.requests.snapshot() == {"set": 1}
    assert (await arr.getitem((slice(8, 10), slice(10, 12))) == 4).all()


async def test_all_fill_chunks_are_not_stored_and_are_deleted() -> None:
    store = MemoryStore()
    arr = await make(store, fill_value=0)
    await arr.setitem(..., 0)
    assert chunk_keys(store) == []
    await arr.setitem((0, 0), 5)
    assert chunk_keys(store) == ["a/c/0/0"]
    await arr.setitem((0, 0), 0)  # the chunk is back to all fill: deleted
    assert chunk_keys(store) == []
    np.testing.assert_array_equal(await arr.getitem(...), np.zeros((10, 12)))


async def test_nan_fill_value_chunks_are_not_stored() -> None:
    store = MemoryStore()
    arr = await make(store, dtype="float64", fill_value=np.nan)
    await arr.setitem(..., np.nan)
    assert chunk_keys(store) == []
    await arr.setitem((slice(0, 4), slice(0, 5)), 1.5)
    assert chunk_keys(store) == ["a/c/0/0"]
    out = await arr.getitem(...)
    assert np.isnan(out[4:]).all() and (out[:4, :5] == 1.5).all()


async def test_scalar_and_broadcast_assignment() -> None:
    store = MemoryStore()
    arr = await make(store)
    await arr.setitem((slice(None), 3), np.arange(10))
    await arr.setitem((2, slice(None)), np.arange(12)[None, :][0])
    await arr.setitem(..., np.arange(12))  # broadcast a row to every row
    np.testing.assert_array_equal(await arr.getitem(...), np.tile(np.arange(12), (10, 1)))


async def test_integer_selection_returns_scalar_and_ellipsis_returns_array() -> None:
    store = MemoryStore()
    arr = await make(store, shape=(), chunks=())
    await arr.setitem((), 42)
    scalar = await arr.getitem(())
    assert isinstance(scalar, np.int32) and scalar == 42
    zero_d = await arr.getitem(...)
    assert isinstance(zero_d, np.ndarray) and zero_d.shape == () and zero_d[()] == 42
    arr2 = await make(store, "b")
    await arr2.setitem((3, 4), 9)
    assert (await arr2.getitem((3, -8))) == 9


async def test_shape_and_dtype_mismatch_raise_array_shape_error_naming_array() -> None:
    store = MemoryStore()
    arr = await make(store, path="grp/x")
    with pytest.raises(ArrayShapeError, match="grp/x"):
        await arr.setitem((slice(0, 2), slice(0, 2)), np.ones((3, 3)))
    with pytest.raises(ArrayShapeError, match="cast"):
        await arr.setitem(..., np.ones((10, 12)) * 1.5)  # float into int32: not same_kind
    with pytest.raises(ArrayShapeError):
        await arr.setitem(..., "text")
    assert chunk_keys(store, "grp/x") == []  # nothing half-written


async def test_out_of_bounds_index_raises() -> None:
    arr = await make(MemoryStore())
    with pytest.raises(IndexingError):
        await arr.getitem((10, 0))
    with pytest.raises(IndexingError):
        await arr.setitem((0, -13), 1)


def test_unknown_dtype_raises() -> None:
    # zarr-python refuses object too: it does not say which object codec stores it.
    with pytest.raises(UnsupportedDataTypeError, match=r"object"):
        build_array_metadata(shape=(3,), dtype=object)
    with pytest.raises(UnsupportedDataTypeError, match=r"\(2,\)|subarray"):
        build_array_metadata(shape=(3,), dtype="(2,)i4")


async def test_strings_roundtrip_both_formats() -> None:
    for fmt in (2, 3):
        store = MemoryStore()
        arr = await make(store, dtype=str, shape=(5,), chunks=(2,), zarr_format=fmt)
        await arr.setitem(slice(0, 4), np.array(["a", "bb", "", "dddd"], dtype=object))
        out = await arr.getitem(...)
        assert out.tolist() == ["a", "bb", "", "dddd", ""]
        assert chunk_keys(store)  # chunk 2 is all "" -> not stored
        assert len(chunk_keys(store)) == 2


async def test_resize_deletes_chunks_outside_and_rewrites_metadata() -> None:
    store = MemoryStore()
    arr = await make(store)
    await arr.setitem(..., np.ones((10, 12), dtype=np.int32))
    assert len(chunk_keys(store)) == 9
    await arr.resize((4, 5))
    assert chunk_keys(store) == ["a/c/0/0"]
    assert (await AsyncArray.open(store, "a")).shape == (4, 5)
    await arr.resize((6, 7))
    out = await arr.getitem(...)
    assert out.shape == (6, 7) and out[:4, :5].all() and not out[4:, :].any()


async def test_shrinking_then_growing_reads_fill_not_stale_values() -> None:
    store = MemoryStore()
    arr = await make(store, fill_value=-1)
    await arr.setitem(..., np.arange(120, dtype=np.int32).reshape(10, 12))
    await arr.resize((6, 7))  # cuts through chunk rows 1 and chunk columns 1
    await arr.resize((10, 12))
    out = await arr.getitem(...)
    expected = np.full((10, 12), -1)
    expected[:6, :7] = np.arange(120).reshape(10, 12)[:6, :7]
    np.testing.assert_array_equal(out, expected)


async def test_attributes_persist_and_hook_is_called() -> None:
    store = MemoryStore()
    calls: list[str] = []

    async def hook(a: AsyncArray) -> None:
        calls.append(a.path)

    arr = await make(store, attributes={"units": "m"})
    arr.on_metadata_written = hook
    await arr.update_attributes({"scale": 2})
    assert (await AsyncArray.open(store, "a")).attrs == {"units": "m", "scale": 2}
    await arr.resize((3, 3))
    assert calls == ["a", "a"]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_sync_attrs_mapping_writes_through(zarr_format: int) -> None:
    store = MemoryStore()
    meta = build_array_metadata(shape=(3,), dtype="i1", zarr_format=zarr_format)
    arr = Array.create(store, "a", meta)
    arr.attrs["x"] = 1
    arr.attrs.update({"y": [1, 2]})
    assert Array.open(store, "a").attrs == {"x": 1, "y": [1, 2]}
    del arr.attrs["x"]
    assert Array.open(store, "a").attrs == {"y": [1, 2]}


async def test_nchunks_initialized_uses_one_listing() -> None:
    store = MemoryStore()
    arr = await make(store)
    await arr.setitem((slice(0, 5), 0), 1)  # chunks (0,0) and (1,0)
    store.requests.reset()
    assert await arr.nchunks_initialized() == 2
    assert store.requests.snapshot() == {"list_prefix": 1}
    assert arr.nchunks == 9


async def test_nchunks_initialized_v2_separators() -> None:
    for sep in (".", "/"):
        store = MemoryStore()
        arr = await make(store, zarr_format=2, chunk_key_encoding=sep)
        await arr.setitem(..., 1)
        assert await arr.nchunks_initialized() == 9


async def test_create_refuses_existing_nodes() -> None:
    store = MemoryStore()
    await make(store)
    with pytest.raises(ContainsArrayError):
        await make(store)
    store._data["g/zarr.json"] = GroupMetadataV3().to_documents()["zarr.json"]
    with pytest.raises(ContainsGroupError):
        await make(store, "g")
    arr = await AsyncArray.create(
        store, "a", build_array_metadata(shape=(2,), dtype="f8"), overwrite=True
    )
    assert arr.shape == (2,)
    store._data["v2g/.zgroup"] = b'{"zarr_format": 2}'
    with pytest.raises(ContainsGroupError):
        await make(store, "v2g", zarr_format=2)
    assert "v2g/.zarray" not in store._data
    await make(store, "v2a", zarr_format=2)
    with pytest.raises(ContainsArrayError):
        await make(store, "v2a", zarr_format=2)


async def test_open_missing_and_group_paths() -> None:
    store = MemoryStore()
    with pytest.raises(ArrayNotFoundError):
        await AsyncArray.open(store, "nothing")
    store._data["g/zarr.json"] = GroupMetadataV3().to_documents()["zarr.json"]
    with pytest.raises(NodeTypeError):
        await AsyncArray.open(store, "g")


async def test_open_reads_metadata_in_one_round_trip() -> None:
    inner = MemoryStore()
    await make(inner, zarr_format=2)
    store = LatencyStore(inner, latency=0.01)
    inner.requests.reset()
    inner.limiter.reset_peak()
    await AsyncArray.open(store, "a")
    assert inner.requests.snapshot() == {"get": 4}
    assert inner.limiter.peak_in_flight == 4  # all four documents requested at once


async def test_read_only_store_refuses_writes() -> None:
    store = MemoryStore()
    arr = await make(store)
    ro = await AsyncArray.open(store.with_read_only(), "a")
    with pytest.raises(ReadOnlyError):
        await ro.setitem(0, 1)
    np.testing.assert_array_equal(await arr.getitem(0), np.zeros(12))


def test_array_pickles_and_reads_the_same() -> None:
    store = MemoryStore()
    arr = Array.create(store, "a", build_array_metadata(shape=(6,), dtype="f4", chunks=(4,)))
    arr[...] = np.arange(6)
    clone = pickle.loads(pickle.dumps(arr))
    assert clone.shape == (6,) and clone.metadata == arr.metadata
    np.testing.assert_array_equal(clone[...], np.arange(6, dtype="f4"))


def test_sync_array_numpy_protocols() -> None:
    arr = Array.create(
        MemoryStore(), "a", build_array_metadata(shape=(4, 3), dtype="u2", chunks=(2, 2))
    )
    arr[...] = np.arange(12).reshape(4, 3)
    assert len(arr) == 4
    np.testing.assert_array_equal(np.asarray(arr), np.arange(12).reshape(4, 3))
    assert "shape=(4, 3)" in repr(arr)
    assert arr.info["chunks"] == (2, 2) and "nchunks_initialized" not in arr.info
    assert arr.info_complete()["nchunks_initialized"] == 4


def test_v2_fortran_order_roundtrip() -> None:
    store = MemoryStore()
    meta = build_array_metadata(shape=(5, 7), dtype="f8", chunks=(3, 4), order="F", zarr_format=2)
    arr = Array.create(store, "a", meta)
    data = np.arange(35.0).reshape(5, 7)
    arr[...] = data
    arr[1:3, 2] = -1
    data[1:3, 2] = -1
    np.testing.assert_array_equal(Array.open(store, "a")[...], data)


async def test_open_with_an_unknown_format_is_a_typed_error() -> None:
    with pytest.raises(UnsupportedFormatError, match="4"):
        await AsyncArray.open(MemoryStore(), "a", zarr_format=4)
