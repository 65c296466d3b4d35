"""zarr-python's convenience API: zeros/ones/full/empty and *_like, array, from_array,
save/load, the Group shortcuts, nbytes_stored, read_only and the array config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

import cloudzarr
from cloudzarr.api import convenience as aconv
from cloudzarr.arrays.extras import ArrayConfig
from cloudzarr.errors import InvalidArgumentError, ReadOnlyError
from cloudzarr.storage import MemoryStore

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.ZarrUserWarning")


def test_creation_shortcuts_write_nothing_and_read_their_fill() -> None:
    store = MemoryStore()
    z = cloudzarr.zeros((5, 4), chunks=(2, 2), store=store, name="z")
    o = cloudzarr.ones((3,), dtype="i2", store=store, name="o")
    f = cloudzarr.full((2, 2), 7.5, store=store, name="f")
    e = cloudzarr.empty((2,), dtype="u1", store=store, name="e")
    assert z.dtype == np.float64 and z.fill_value == 0 and z.chunks == (2, 2)
    np.testing.assert_array_equal(z[...], np.zeros((5, 4)))
    np.testing.assert_array_equal(o[...], np.ones(3, "i2"))
    np.testing.assert_array_equal(f[...], np.full((2, 2), 7.5))
    assert e.shape == (2,) and e.dtype == np.uint8
    assert sorted(k for k in _keys(store) if "/c" in k) == []  # no chunk was written


def _keys(store: MemoryStore) -> list[str]:
    return cloudzarr.sync.sync(_collect(store))


async def _collect(store: MemoryStore) -> list[str]:
    return [k async for k in store.list()]


def test_like_functions_copy_shape_chunks_dtype_and_fill() -> None:
    src = cloudzarr.full((6, 4), -3, dtype="i4", chunks=(3, 2))
    for like, fill in [
        (cloudzarr.zeros_like, 0),
        (cloudzarr.ones_like, 1),
        (cloudzarr.full_like, -3),
        (cloudzarr.empty_like, -3),
    ]:
        new = like(src)
        assert (new.shape, new.chunks, new.dtype, new.fill_value) == ((6, 4), (3, 2), "i4", fill)
    from_numpy = cloudzarr.zeros_like(np.arange(6, dtype="u2").reshape(2, 3))
    assert from_numpy.shape == (2, 3) and from_numpy.dtype == np.uint16
    with pytest.raises(InvalidArgumentError, match="fill_value"):
        cloudzarr.full_like(np.arange(3))


def test_array_and_from_array_copy_values_slab_by_slab() -> None:
    data = np.arange(60, dtype="i8").reshape(10, 6)
    a = cloudzarr.array(data, chunks=(3, 4))
    np.testing.assert_array_equal(a[...], data)
    assert a.chunks == (3, 4)
    target = MemoryStore()
    copied = cloudzarr.from_array(target, data=a, name="copy")
    assert copied.chunks == (3, 4)
    np.testing.assert_array_equal(copied[...], data)
    rechunked = cloudzarr.from_array(target, data=a, name="r", chunks=(5, 6), zarr_format=2)
    assert rechunked.chunks == (5, 6) and rechunked.zarr_format == 2
    np.testing.assert_array_equal(rechunked[...], data)
    theirs = zarr.array(data, chunks=(4, 4))
    from_zarr = cloudzarr.from_array(target, data=theirs, name="z")
    np.testing.assert_array_equal(from_zarr[...], data)
    assert from_zarr.chunks == (4, 4)
    empty = cloudzarr.from_array(target, data=a, name="e", write_data=False)
    np.testing.assert_array_equal(empty[...], np.zeros_like(data))


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_save_and_load_interoperate_with_zarr_python(tmp_path: Path, zarr_format: int) -> None:
    one = str(tmp_path / "one")
    cloudzarr.save(one, np.arange(5), zarr_format=zarr_format)
    np.testing.assert_array_equal(zarr.load(store=one), np.arange(5))
    np.testing.assert_array_equal(cloudzarr.load(store=one), np.arange(5))
    many = str(tmp_path / "many")
    cloudzarr.save(many, np.arange(3), np.ones(2), foo=np.zeros(4), zarr_format=zarr_format)
    group = zarr.open_group(many, mode="r")
    assert sorted(group.array_keys()) == ["arr_0", "arr_1", "foo"]
    loaded = cloudzarr.load(store=many)
    assert sorted(loaded) == ["arr_0", "arr_1", "foo"]
    np.testing.assert_array_equal(loaded["foo"], np.zeros(4))
    theirs = str(tmp_path / "theirs")
    zarr.save(theirs, np.arange(7), zarr_format=zarr_format)
    np.testing.assert_array_equal(cloudzarr.load(store=theirs), np.arange(7))
    # save over an existing array replaces it, as in zarr-python
    cloudzarr.save(one, np.ones(2), zarr_format=zarr_format)
    np.testing.assert_array_equal(cloudzarr.load(store=one), np.ones(2))
    with pytest.raises(InvalidArgumentError, match="at least one"):
        cloudzarr.save_group(str(tmp_path / "none"))


async def test_async_convenience_functions() -> None:
    z = await aconv.zeros((4,), chunks=(2,))
    assert (await z.getitem(Ellipsis)).tolist() == [0, 0, 0, 0]
    store = MemoryStore()
    await aconv.save(store, np.arange(3))
    assert (await aconv.load(store=store)).tolist() == [0, 1, 2]


def test_group_shortcuts_match_zarr_python_names() -> None:
    group = cloudzarr.open_group(MemoryStore(), mode="w")
    z = group.zeros(name="z", shape=(4,), chunks=(2,))
    o = group.ones(name="o", shape=(2, 2), dtype="i1")
    f = group.full(name="f", shape=(3,), fill_value=-1, dtype="i4")
    like = group.full_like(name="l", data=f)
    e = group.empty_like(name="e", data=np.arange(6).reshape(2, 3))
    zl = group.zeros_like(name="zl", data=o)
    ol = group.ones_like(name="ol", data=z)
    np.testing.assert_array_equal(f[...], [-1, -1, -1])
    np.testing.assert_array_equal(like[...], [-1, -1, -1])
    np.testing.assert_array_equal(ol[...], np.ones(4))
    assert (e.shape, zl.dtype, o[...].tolist()) == ((2, 3), np.int8, [[1, 1], [1, 1]])
    assert [a.basename for a in group.array_values()] == ["e", "f", "l", "o", "ol", "z", "zl"]


def test_nbytes_stored_read_only_and_config() -> None:
    store = MemoryStore()
    a = cloudzarr.zeros((4,), chunks=(2,), store=store, dtype="i4")
    meta = a.nbytes_stored()
    store.requests.reset()
    assert a.nbytes_stored() == meta  # only zarr.json
    assert store.requests.snapshot() == {"list_prefix": 1, "getsize": 1}
    a[:2] = 5
    assert a.nbytes_stored() > meta
    assert a.read_only is False
    ro = cloudzarr.open_array(store.with_read_only(), mode="r")
    assert ro.read_only is True
    with pytest.raises(ReadOnlyError):
        ro.oindex[[0]] = 1
    assert a.config == ArrayConfig(write_empty_chunks=False, order="C")


def test_write_empty_chunks_comes_from_config_and_is_obeyed() -> None:
    store = MemoryStore()
    a = cloudzarr.zeros((4,), chunks=(2,), store=store, dtype="i4")
    a[...] = 0  # all fill: nothing stored
    assert a.nchunks_initialized == 0
    keep = a.with_config(write_empty_chunks=True)
    assert keep.config.write_empty_chunks and not a.config.write_empty_chunks
    keep[...] = 0
    assert a.nchunks_initialized == 2
    with cloudzarr.config.set({"array.write_empty_chunks": True}):
        opened = cloudzarr.open_array(store)
    assert opened.config.write_empty_chunks
    with pytest.raises(InvalidArgumentError, match="unknown key"):
        a.with_config(compressor="zstd")
