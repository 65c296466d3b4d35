"""Property-based reads and writes against numpy as the oracle.

Random arrays (0-d to 4-d, size-0 dimensions, chunks larger than the shape or not dividing it,
sharded or not, both formats, C or F order for v2, every supported dtype, random fill values)
take a random sequence of basic-indexing writes (scalars and broadcastable arrays) and reads;
after every step the array must agree with a numpy array given the same operations. Bad writes
(a value of the wrong shape, an out-of-bounds index) must raise a cloudzarr error and leave every
stored byte as it was.

Examples are derandomized so CI sees the same cases on every run; counts are modest because the
suite runs on two shared cores.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cloudzarr.arrays import Array, build_array_metadata
from cloudzarr.errors import ArrayShapeError, CloudzarrError, IndexingError, ReadOnlyError
from cloudzarr.storage import LocalStore, MemoryStore, Store

DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128", "str",
]  # fmt: skip

# Bug hunts raise the example counts: CLOUDZARR_PROPERTY_SCALE=20 runs twenty times as many,
# randomized, and reports failures unshrunk (shrinking zarr-python calls is slow).
_SCALE = float(os.environ.get("CLOUDZARR_PROPERTY_SCALE", "1"))
_HUNT_PHASES = (Phase.explicit, Phase.generate)


def examples(n: int) -> settings:
    """Deterministic settings running ``n`` examples (scaled for bug hunts)."""
    return settings(
        max_examples=max(1, int(n * _SCALE)),
        deadline=None,
        derandomize=_SCALE == 1,
        database=None,
        phases=_HUNT_PHASES if _SCALE != 1 else tuple(Phase),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def numpy_dtype(name: str) -> np.dtype[Any]:
    """The numpy dtype cloudzarr reads a ``name`` array as."""
    return np.dtypes.StringDType() if name == "str" else np.dtype(name)


def scalars(name: str) -> st.SearchStrategy[Any]:
    """Scalar values of dtype ``name`` (NaN, infinities and signed zeros included)."""
    if name == "str":
        return st.text(st.characters(codec="utf-8"), max_size=4)
    return hnp.from_dtype(np.dtype(name), allow_subnormal=False)


def values(name: str, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Arrays of dtype ``name`` and ``shape``; few distinct values, so all-fill chunks occur."""
    if name == "str":
        return hnp.arrays(object, shape, elements=scalars(name)).map(
            lambda a: a.astype(np.dtypes.StringDType())
        )
    return hnp.arrays(np.dtype(name), shape, elements=scalars(name))


@st.composite
def array_specs(draw: st.DrawFn, *, max_ndim: int = 4) -> dict[str, Any]:
    """Arguments of ``build_array_metadata`` for a small random array."""
    ndim = draw(st.integers(0, max_ndim))
    shape = tuple(draw(st.integers(0, 6 if ndim <= 2 else 4)) for _ in range(ndim))
    # Chunks up to 2 past the shape: larger than the array, or not dividing it.
    chunks = tuple(draw(st.integers(1, max(n, 1) + 2)) for n in shape)
    dtype = draw(st.sampled_from(DTYPES))
    fmt = draw(st.sampled_from([2, 3]))
    spec: dict[str, Any] = {
        "shape": shape,
        "chunks": chunks,
        "dtype": str if dtype == "str" else dtype,
        "zarr_format": fmt,
        "fill_value": draw(st.none() | scalars(dtype)),
    }
    if fmt == 2:
        spec["order"] = draw(st.sampled_from(["C", "F"]))
    elif draw(st.booleans()):
        spec["shards"] = tuple(c * draw(st.integers(1, 3)) for c in chunks)
    if fmt == 3 and draw(st.booleans()):
        spec.update(draw(v3_codecs(ndim, dtype)))
    names = ["v2"] if fmt == 2 else ["default", "v2"]
    name, sep = draw(st.sampled_from(names)), draw(st.sampled_from(["/", "."]))
    spec["chunk_key_encoding"] = {"name": name, "configuration": {"separator": sep}}
    return spec


@st.composite
def v3_codecs(draw: st.DrawFn, ndim: int, dtype: str) -> dict[str, Any]:
    """Non-default v3 codecs, as JSON dicts both libraries take: a transpose, the bytes
    codec's endianness, compressors and a checksum."""
    out: dict[str, Any] = {}
    if ndim > 1 and draw(st.booleans()):
        order = draw(st.permutations(range(ndim)))
        out["filters"] = [{"name": "transpose", "configuration": {"order": list(order)}}]
    if dtype != "str":
        endian = draw(st.sampled_from(["little", "big"]))
        out["serializer"] = {"name": "bytes", "configuration": {"endian": endian}}
    compressor = draw(
        st.sampled_from(
            [
                None,
                {"name": "gzip", "configuration": {"level": 1}},
                {"name": "zstd", "configuration": {"level": 1, "checksum": True}},
            ]
        )
    )
    chain = [] if compressor is None else [compressor]
    if draw(st.booleans()):
        chain.append({"name": "crc32c"})
    out["compressors"] = chain or None
    return out


def expected_fill(spec: dict[str, Any]) -> Any:
    """What never-written elements read as: the fill value, or the dtype's zero."""
    name = "str" if spec["dtype"] is str else spec["dtype"]
    if spec["fill_value"] is not None:
        return spec["fill_value"]
    return "" if name == "str" else np.zeros((), numpy_dtype(name))[()]


@st.composite
def selections(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    """A basic-indexing selection: ints (negative too, numpy ints, 0-d arrays), slices with
    positive or negative steps, an Ellipsis anywhere; sometimes not a tuple."""
    items: list[Any] = []
    for n in shape:
        kind = draw(st.integers(0, 4))
        if kind == 0 and n > 0:
            i = draw(st.integers(-n, n - 1))
            items.append(draw(st.sampled_from([int, np.int64, np.uint8 if i >= 0 else int]))(i))
        elif kind == 1 and n > 0:
            items.append(np.array(draw(st.integers(-n, n - 1))))
        else:
            bound = st.none() | st.integers(-n - 2, n + 2)
            step = st.none() | st.sampled_from([1, 2, 3, -1, -2, 5])
            items.append(slice(draw(bound), draw(bound), draw(step)))
    if draw(st.booleans()):
        # An Ellipsis stands for the full slices it replaces.
        at = draw(st.integers(0, len(items)))
        run = draw(st.integers(0, len(items) - at))
        if all(isinstance(s, slice) and s == slice(None) for s in items[at : at + run]):
            items[at : at + run] = [Ellipsis]
    # Trailing full slices may be left out (not after an Ellipsis: it would absorb them).
    has_ellipsis = any(it is Ellipsis for it in items)
    while (
        not has_ellipsis
        and items
        and isinstance(items[-1], slice)
        and items[-1] == slice(None)
        and draw(st.booleans())
    ):
        items.pop()
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


def broadcastable_shape(draw: st.DrawFn, target: tuple[int, ...]) -> tuple[int, ...]:
    """A shape numpy broadcasts to ``target``: leading dimensions dropped, some set to 1."""
    kept = target[draw(st.integers(0, len(target))) :]
    return tuple(1 if draw(st.booleans()) else n for n in kept)


def layouts(value: np.ndarray) -> st.SearchStrategy[np.ndarray]:
    """``value`` as is, byte-swapped, in Fortran order, or a strided view: the bytes written
    must not depend on the value's memory layout."""
    options = [value, np.array(value, order="F")]
    if value.dtype.kind in "iufc" and value.dtype.itemsize > 1:
        options.append(value.astype(value.dtype.newbyteorder()))
    if value.ndim:
        doubled = np.repeat(value, 2, axis=-1)
        options.append(doubled[..., ::2])
    return st.sampled_from(options)


def assert_same(got: Any, expected: Any) -> None:
    """Equal values, shape, dtype and kind (scalar or array); NaN equals NaN, and complex
    numbers compare part by part so a NaN real part cannot hide a different imaginary part."""
    assert isinstance(got, np.ndarray) == isinstance(expected, np.ndarray), (got, expected)
    got_a, exp_a = np.asarray(got), np.asarray(expected)
    assert got_a.shape == exp_a.shape
    if isinstance(expected, np.ndarray | np.generic):
        assert got_a.dtype == exp_a.dtype
    if exp_a.dtype.kind == "c":
        _assert_same_floats(got_a.real, exp_a.real)
        _assert_same_floats(got_a.imag, exp_a.imag)
    elif exp_a.dtype.kind == "f":
        _assert_same_floats(got_a, exp_a)
    else:
        np.testing.assert_array_equal(got_a, exp_a)


def _assert_same_floats(got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(got, expected)
    # Zeros keep their sign (NaN signs are not compared).
    numbers = ~np.isnan(expected)
    np.testing.assert_array_equal(np.signbit(got[numbers]), np.signbit(expected[numbers]))


def snapshot(store: Store) -> dict[str, bytes]:
    """Every key and value of a store (for checking a failed write left nothing behind)."""
    from cloudzarr.sync import sync

    async def collect() -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        async for key in store.list():
            value = await store.get(key)
            assert value is not None
            out[key] = value
        return out

    return sync(collect())


def run_scenario(data: st.DataObject, store: Store, spec: dict[str, Any], steps: int) -> None:
    name = "str" if spec["dtype"] is str else spec["dtype"]
    arr = Array.create(store, "a", build_array_metadata(**spec))
    model = np.full(spec["shape"], expected_fill(spec), dtype=numpy_dtype(name))
    assert_same(arr[...], model)
    for _ in range(steps):
        sel = data.draw(selections(spec["shape"]), label="selection")
        target = model[sel].shape if isinstance(model[sel], np.ndarray) else ()
        action = data.draw(st.sampled_from(["read", "scalar", "array", "bad"]), label="action")
        if action == "read":
            assert_same(arr[sel], model[sel])
            continue
        if action == "bad":
            before = snapshot(store)
            bad = tuple(n + 2 for n in target) if target else (2,)
            with pytest.raises(ArrayShapeError):
                arr[sel] = np.zeros(bad, dtype=model.dtype)
            assert snapshot(store) == before
            continue
        if action == "scalar":
            value: Any = data.draw(scalars(name), label="scalar")
        else:
            vshape = broadcastable_shape(data.draw, target)
            value = data.draw(values(name, vshape), label="value")
            value = data.draw(layouts(value), label="layout")
        arr[sel] = value
        model[sel] = value
        assert_same(arr[sel], model[sel])
    assert_same(arr[...], model)
    assert_same(Array.open(store, "a")[...], model)
    assert stored_chunk_keys(store, "a") == expected_chunk_keys(arr, model)


def stored_chunk_keys(store: Store, path: str) -> set[str]:
    """The keys of every stored chunk (or shard) of the array at ``path``."""
    docs = {f"{path}/{d}" for d in ("zarr.json", ".zarray", ".zattrs")}
    return {k for k in snapshot(store) if k.startswith(path + "/") and k not in docs}


def expected_chunk_keys(arr: Array, model: np.ndarray) -> set[str]:
    """The storage chunks holding anything but the fill value, by the model's values: exactly
    these must be stored (all-fill chunks are not written, and are deleted when they become so).
    """
    meta = arr.metadata
    grid = meta.chunks
    fill = np.asarray(arr.fill_value, dtype=model.dtype)
    keys = set()
    for coords in np.ndindex(*arr.shard_grid_shape):
        cut = tuple(slice(k * c, (k + 1) * c) for k, c in zip(coords, grid, strict=True))
        region = model[(*cut, Ellipsis)]  # a 0-d array even for a 0-d model
        if not _all_fill(region, fill):
            keys.add(f"{arr.path}/{meta.chunk_key(coords)}")
    return keys


def _all_fill(region: np.ndarray, fill: np.ndarray) -> bool:
    if region.dtype.kind == "c":
        return _all_fill(region.real, fill.real) and _all_fill(region.imag, fill.imag)
    if region.dtype.kind == "f":
        if np.isnan(fill):
            return bool(np.isnan(region).all())
        return bool(np.all(region == fill) and np.all(np.signbit(region) == np.signbit(fill)))
    return bool(np.all(region == fill))


@examples(150)
@given(spec=array_specs(), data=st.data())
def test_reads_and_writes_match_numpy(spec: dict[str, Any], data: st.DataObject) -> None:
    run_scenario(data, MemoryStore(), spec, steps=5)


@examples(12)
@given(spec=array_specs(max_ndim=2), data=st.data())
def test_reads_and_writes_match_numpy_on_local_disk(
    spec: dict[str, Any], data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_scenario(data, LocalStore(tmp_path_factory.mktemp("local")), spec, steps=4)


@examples(60)
@given(spec=array_specs(max_ndim=3), data=st.data())
def test_out_of_bounds_index_raises_and_changes_nothing(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    shape = spec["shape"]
    if not shape:
        return
    store = MemoryStore()
    arr = Array.create(store, "a", build_array_metadata(**spec))
    arr[...] = data.draw(scalars("str" if spec["dtype"] is str else spec["dtype"]))
    before = snapshot(store)
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    bad_index = data.draw(st.sampled_from([n, n + 3, -n - 1]))
    sel: list[Any] = [slice(None)] * len(shape)
    sel[axis] = bad_index
    with pytest.raises(IndexingError):
        arr[tuple(sel)]
    with pytest.raises(IndexingError):
        arr[tuple(sel)] = arr.fill_value
    too_many = (0,) * (len(shape) + 1)
    with pytest.raises(CloudzarrError):
        arr[too_many]
    assert snapshot(store) == before


# --- regressions found by the properties above ---------------------------------------------


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_nan_parts_are_not_mistaken_for_a_nan_fill(dtype: str) -> None:
    # Was: numpy's isnan calls nan+1j and 1+nanj NaN, so the chunk counted as all fill
    # (nan+0j), was not stored, and read back as [nan+0j, nan+0j].
    store = MemoryStore()
    meta = build_array_metadata(shape=(2,), dtype=dtype, chunks=(2,), fill_value=complex(np.nan, 0))
    arr = Array.create(store, "a", meta)
    written = np.array([complex(np.nan, 1), complex(1, np.nan)], dtype=dtype)
    arr[:] = written
    assert_same(arr[:], written)
    assert arr.nchunks_initialized == 1
    arr[:] = complex(np.nan, 0)
    assert arr.nchunks_initialized == 0


@pytest.mark.parametrize("fmt", [2, 3])
def test_negative_zero_is_not_mistaken_for_a_zero_fill(fmt: int) -> None:
    # Was: -0.0 == 0.0, so a chunk of negative zeros was dropped and read back as +0.0.
    store = MemoryStore()
    meta = build_array_metadata(
        shape=(4,), dtype="float32", chunks=(2,), fill_value=0.0, zarr_format=fmt
    )
    arr = Array.create(store, "a", meta)
    arr[:2] = -0.0
    arr[2:] = np.array([-0.0, -0.0], dtype="float32")
    assert np.signbit(arr[:]).all()
    assert arr.nchunks_initialized == 2
    arr[:] = 0.0
    assert not np.signbit(arr[:]).any()
    assert arr.nchunks_initialized == 0


_INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


@examples(60)
@given(
    target=st.sampled_from(_INTS),
    source=st.sampled_from(_INTS),
    as_python_int=st.booleans(),
    data=st.data(),
)
def test_integer_values_are_written_only_when_they_fit(
    target: str, source: str, as_python_int: bool, data: st.DataObject
) -> None:
    # Was: int16_array[...] = 70000 and int64_array[...] = 2**63 wrapped around silently,
    # because numpy's same_kind rule lets any integer array cast to any integer dtype.
    store = MemoryStore()
    arr = Array.create(store, "a", build_array_metadata(shape=(3,), dtype=target, chunks=(2,)))
    arr[...] = 1
    before = snapshot(store)
    value: Any = data.draw(hnp.arrays(np.dtype(source), (3,)))
    if as_python_int:
        value = int(value[0])
    info = np.iinfo(target)
    fits = bool(np.all((info.min <= np.asarray(value)) & (np.asarray(value) <= info.max)))
    if fits:
        arr[...] = value
        assert_same(arr[...], np.broadcast_to(np.asarray(value).astype(target), (3,)))
    else:
        with pytest.raises(ArrayShapeError):
            arr[...] = value
        assert snapshot(store) == before


@pytest.mark.parametrize("bad", [3.7, (3.7,), (True,), "3", ("3",)])
def test_resize_refuses_non_integer_shapes(bad: Any) -> None:
    # Was: (3.7,) was truncated to (3,) and 3.5 raised a bare TypeError.
    arr = Array.create(MemoryStore(), "a", build_array_metadata(shape=(4,), dtype="i4"))
    with pytest.raises(ArrayShapeError, match="'/a'"):
        arr.resize(bad)
    assert arr.shape == (4,)


def test_resize_to_a_negative_shape_names_the_array() -> None:
    arr = Array.create(MemoryStore(), "a", build_array_metadata(shape=(4,), dtype="i4"))
    with pytest.raises(CloudzarrError, match=r"'/a'.*non-negative"):
        arr.resize((-1,))
    assert Array.open(arr.store, "a").shape == (4,)


@pytest.mark.parametrize("value", [np.int64(3), float("nan"), b"x", np.arange(2)])
def test_unserialisable_attribute_names_the_array_and_changes_nothing(value: Any) -> None:
    store = MemoryStore()
    arr = Array.create(store, "a", build_array_metadata(shape=(4,), dtype="i4"))
    arr.attrs["kept"] = 1
    before = snapshot(store)
    with pytest.raises(CloudzarrError, match=r"array '/a'.*JSON"):
        arr.attrs["bad"] = value
    assert dict(arr.attrs) == {"kept": 1}
    assert snapshot(store) == before
    assert dict(Array.open(store, "a").attrs) == {"kept": 1}


@pytest.mark.parametrize("fmt", [2, 3])
def test_trailing_nul_characters_of_strings_are_kept(fmt: int) -> None:
    # Was: the value went through numpy's fixed-width "U" dtype, which drops trailing NULs.
    arr = Array.create(
        MemoryStore(), "a", build_array_metadata(shape=(3,), dtype=str, zarr_format=fmt)
    )
    arr[0] = "a\x00"
    arr[1:] = ["b\x00\x00", "\x00"]
    assert arr[...].tolist() == ["a\x00", "b\x00\x00", "\x00"]
    with pytest.raises(ArrayShapeError):
        arr[0] = 5
    with pytest.raises(ArrayShapeError):
        arr[:] = [1.5, 2.5, 3.5]


@pytest.mark.parametrize("fmt", [2, 3])
def test_chunk_equal_to_a_fill_with_trailing_nul_is_not_stored(fmt: int) -> None:
    # Was: the comparison with the fill went through numpy's "U" dtype and never matched.
    meta = build_array_metadata(
        shape=(2,), dtype=str, chunks=(1,), fill_value="x\x00", zarr_format=fmt
    )
    arr = Array.create(MemoryStore(), "a", meta)
    arr[0] = "q"
    assert arr.nchunks_initialized == 1
    arr[0] = "x\x00"
    assert arr.nchunks_initialized == 0
    assert arr[...].tolist() == ["x\x00", "x\x00"]


def test_resize_on_a_read_only_store_fails_before_any_request() -> None:
    store = MemoryStore()
    arr = Array.create(store, "a", build_array_metadata(shape=(4,), dtype="i4", chunks=(2,)))
    arr[:] = np.arange(4, dtype="i4")
    reader = Array.open(store.with_read_only(), "a")
    before = dict(reader.store.requests.snapshot())
    with pytest.raises(ReadOnlyError, match=r"'/a'.*resize"):
        reader.resize((2,))
    assert dict(reader.store.requests.snapshot()) == before
    assert_same(Array.open(store, "a")[...], np.arange(4, dtype="i4"))


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        ("i4", [[1, 2], [3]]),  # was: a bare ValueError from numpy
        (str, [["a"], ["b", "c"]]),  # likewise
        (str, None),  # was: stored as the string "None"
        (str, [None, "x"]),
        (str, np.array(["a", 3], dtype=object)),
    ],
)
def test_values_that_are_not_arrays_of_the_dtype_are_refused(dtype: Any, value: Any) -> None:
    store = MemoryStore()
    arr = Array.create(store, "a", build_array_metadata(shape=(2, 2), dtype=dtype, chunks=(1, 2)))
    arr[0] = arr.fill_value
    before = snapshot(store)
    with pytest.raises(ArrayShapeError, match="'/a'"):
        arr[...] = value
    assert snapshot(store) == before
