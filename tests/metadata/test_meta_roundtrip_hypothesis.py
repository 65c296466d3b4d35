"""Property tests: any valid array metadata survives to_dict/from_dict, bytes and pickling."""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudzarr.codecs import normalize_v2_compressor, normalize_v2_filters, normalize_v3_codecs
from cloudzarr.metadata import (
    STRING_DTYPE,
    ArrayMetadataV2,
    ArrayMetadataV3,
    ChunkKeyEncoding,
    load_document,
    normalize_fill_value,
)

DTYPES = (
    [np.dtype(n) for n in ("bool", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8")]
    + [np.dtype(n) for n in ("f2", "f4", "f8", "c8", "c16")]
    + [STRING_DTYPE]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
attributes = st.dictionaries(st.text(max_size=6), json_values, max_size=4)


@st.composite
def shapes_and_chunks(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 50), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, 20)) for _ in range(ndim))
    return shape, chunks


@st.composite
def fill_values(draw: Any, dtype: np.dtype) -> Any:
    if dtype == STRING_DTYPE:
        return draw(st.text(max_size=5))
    if dtype.kind == "b":
        return draw(st.booleans())
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return draw(st.integers(int(info.min), int(info.max)))
    raw = draw(st.binary(min_size=dtype.itemsize, max_size=dtype.itemsize))
    return np.frombuffer(raw, dtype=dtype)[0]  # any bit pattern, NaN payloads included


COMPRESSORS = st.sampled_from(
    [
        "auto",
        None,
        {"name": "gzip", "configuration": {"level": 3}},
        {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 1, "shuffle": "noshuffle"}},
        [{"name": "zstd", "configuration": {"level": 2, "checksum": True}}, {"name": "crc32c"}],
        {"id": "zlib", "level": 1},
    ]
)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_v3_round_trip(data: Any) -> None:
    dtype = data.draw(st.sampled_from(DTYPES))
    shape, chunks = data.draw(shapes_and_chunks())
    ndim = len(shape)
    meta = ArrayMetadataV3(
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        fill_value=normalize_fill_value(data.draw(fill_values(dtype)), dtype),
        codecs=normalize_v3_codecs(compressors=data.draw(COMPRESSORS), dtype=dtype, ndim=ndim),
        chunk_key_encoding=ChunkKeyEncoding(
            data.draw(st.sampled_from(["default", "v2"])), data.draw(st.sampled_from(["/", "."]))
        ),
        attributes=data.draw(attributes),
        dimension_names=data.draw(
            st.none() | st.lists(st.none() | st.text(max_size=4), min_size=ndim, max_size=ndim)
        ),
    )
    assert ArrayMetadataV3.from_dict(meta.to_dict()) == meta
    doc = load_document(meta.to_documents()["zarr.json"], "zarr.json")
    assert ArrayMetadataV3.from_dict(doc) == meta
    assert json.loads(json.dumps(meta.to_dict())) == meta.to_dict()
    assert pickle.loads(pickle.dumps(meta)) == meta


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_v2_round_trip(data: Any) -> None:
    dtype = data.draw(st.sampled_from(DTYPES))
    if dtype != STRING_DTYPE and dtype.itemsize > 1 and data.draw(st.booleans()):
        dtype = dtype.newbyteorder(">")
    shape, chunks = data.draw(shapes_and_chunks())
    compressor = data.draw(COMPRESSORS)
    if isinstance(compressor, list):
        compressor = compressor[0]
    fill = data.draw(
        st.none() | fill_values(dtype.newbyteorder("=") if dtype.byteorder == ">" else dtype)
    )
    meta = ArrayMetadataV2(
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        fill_value=fill,
        order=data.draw(st.sampled_from(["C", "F"])),
        compressor=normalize_v2_compressor(compressor, dtype),
        filters=normalize_v2_filters("auto", dtype),
        dimension_separator=data.draw(st.sampled_from([".", "/"])),
        attributes=data.draw(attributes),
    )
    docs = meta.to_documents()
    zattrs = load_document(docs[".zattrs"], ".zattrs") if ".zattrs" in docs else None
    assert (
        ArrayMetadataV2.from_dict(load_document(docs[".zarray"], ".zarray"), attributes=zattrs)
        == meta
    )
    assert ArrayMetadataV2.from_dict(meta.to_dict(), attributes=meta.attributes) == meta
    assert pickle.loads(pickle.dumps(meta)) == meta


def _zarr_open(documents: dict[str, bytes]) -> Any:
    import warnings

    import zarr

    store = zarr.storage.MemoryStore()
    proto = zarr.core.buffer.default_buffer_prototype()
    for name, raw in documents.items():
        store._store_dict[f"x/{name}"] = proto.buffer.from_bytes(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.open_array(store, path="x", mode="r")


def _same_fill(theirs: Any, ours: Any, dtype: np.dtype) -> bool:
    if dtype == STRING_DTYPE:
        return bool(theirs == ours)
    return np.asarray(theirs).astype(dtype).tobytes() == np.asarray(ours).astype(dtype).tobytes()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_zarr_python_reads_any_v3_metadata_we_write(data: Any) -> None:
    dtype = data.draw(st.sampled_from(DTYPES))
    shape, chunks = data.draw(shapes_and_chunks())
    ndim = len(shape)
    attrs = data.draw(attributes)
    names = data.draw(st.none() | st.lists(st.text(max_size=4), min_size=ndim, max_size=ndim))
    meta = ArrayMetadataV3(
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        fill_value=normalize_fill_value(data.draw(fill_values(dtype)), dtype),
        codecs=normalize_v3_codecs(compressors=data.draw(COMPRESSORS), dtype=dtype, ndim=ndim),
        attributes=attrs,
        dimension_names=names,
    )
    arr = _zarr_open(meta.to_documents())
    assert arr.shape == shape and arr.chunks == chunks
    assert arr.dtype == dtype
    assert _same_fill(arr.fill_value, meta.fill_value, dtype)
    assert arr.attrs.asdict() == json.loads(json.dumps(attrs))
    assert arr.metadata.dimension_names == (None if names is None else tuple(names))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_zarr_python_reads_any_v2_metadata_we_write(data: Any) -> None:
    dtype = data.draw(st.sampled_from(DTYPES))
    shape, chunks = data.draw(shapes_and_chunks())
    attrs = data.draw(attributes)
    compressor = data.draw(COMPRESSORS)
    if isinstance(compressor, list):
        compressor = compressor[0]
    meta = ArrayMetadataV2(
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        fill_value=data.draw(st.none() | fill_values(dtype)),
        order=data.draw(st.sampled_from(["C", "F"])),
        compressor=normalize_v2_compressor(compressor, dtype),
        filters=normalize_v2_filters("auto", dtype),
        attributes=attrs,
    )
    arr = _zarr_open(meta.to_documents())
    assert arr.shape == shape and arr.chunks == chunks
    assert arr.dtype == dtype
    if meta.fill_value is None:
        assert arr.fill_value is None or _same_fill(
            arr.fill_value, meta.effective_fill_value, dtype
        )
    else:
        assert _same_fill(arr.fill_value, meta.fill_value, dtype)
    assert arr.attrs.asdict() == json.loads(json.dumps(attrs))
