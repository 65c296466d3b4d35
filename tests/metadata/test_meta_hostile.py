"""Hostile documents and arguments get typed errors naming the key and field, and nothing is
written: the cases issue 13 measured (deep nesting, int64 overflow, lone surrogates, nested
sharding, Blosc parameters accepted at open and refused at write) and the limits behind them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import cloudzarr
from cloudzarr.config import config
from cloudzarr.errors import InvalidMetadataError, UnsupportedCodecError
from cloudzarr.metadata import ArrayMetadataV3, dump_document, load_document
from cloudzarr.metadata.codec_specs import MAX_CODEC_DEPTH
from cloudzarr.storage import MemoryStore


def _v3_array(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [4],
        "data_type": "float64",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0.0,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {},
    }
    doc.update(changes)
    return doc


def _v2_array(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "zarr_format": 2,
        "shape": [4],
        "chunks": [2],
        "dtype": "<f8",
        "compressor": None,
        "fill_value": 0.0,
        "order": "C",
        "filters": None,
    }
    doc.update(changes)
    return doc


def _store(docs: dict[str, Any]) -> MemoryStore:
    return MemoryStore(
        store_dict={
            k: v if isinstance(v, bytes) else json.dumps(v).encode() for k, v in docs.items()
        }
    )


def _open_error(docs: dict[str, Any], path: str = "a", zarr_format: int = 3) -> Exception:
    with pytest.raises(cloudzarr.errors.CloudzarrError) as info:
        cloudzarr.open(_store(docs), path=path, mode="r", zarr_format=zarr_format)
    return info.value


# --- documents read from a store -----------------------------------------------------------------


@pytest.mark.parametrize("depth", [129, 1_000, 100_000])
def test_deeply_nested_documents_are_refused_naming_the_key(depth: int) -> None:
    raw = b'{"zarr_format": 3, "node_type": "group", "attributes": {"x": ' + (
        b"[" * depth + b"]" * depth + b"}}"
    )
    error = _open_error({"a/zarr.json": raw})
    assert isinstance(error, InvalidMetadataError)
    assert "a/zarr.json" in str(error) and "nested" in str(error)


def test_nesting_up_to_the_limit_is_read() -> None:
    inner: Any = 1
    for _ in range(120):
        inner = [inner]
    group = cloudzarr.open(
        _store(
            {"a/zarr.json": {"zarr_format": 3, "node_type": "group", "attributes": {"x": inner}}}
        ),
        path="a",
        mode="r",
    )
    assert group.attrs["x"][0][0][0] is not None


def test_documents_over_the_size_limit_are_refused_before_parsing() -> None:
    doc = {"zarr_format": 3, "node_type": "group", "attributes": {"pad": "x" * 5000}}
    with config.set({"metadata.max_document_bytes": 4096}):
        error = _open_error({"a/zarr.json": doc})
    assert isinstance(error, InvalidMetadataError)
    assert "a/zarr.json" in str(error) and "metadata.max_document_bytes" in str(error)


@pytest.mark.parametrize("field", ["shape", "chunks"])
@pytest.mark.parametrize("value", [[2**63], [2**64 + 5], [2**40, 2**40], [1] * 65])
def test_shapes_beyond_int64_are_refused_in_both_formats(field: str, value: list[int]) -> None:
    v2 = _open_error({"a/.zarray": _v2_array(**{field: value})}, zarr_format=2)
    assert isinstance(v2, InvalidMetadataError)
    assert "a/.zarray" in str(v2) and field in str(v2)
    grid = {"name": "regular", "configuration": {"chunk_shape": value}}
    doc = _v3_array(**({"shape": value} if field == "shape" else {"chunk_grid": grid}))
    v3 = _open_error({"a/zarr.json": doc})
    assert isinstance(v3, InvalidMetadataError)
    assert "a/zarr.json" in str(v3) and ("shape" in str(v3) or "chunk" in str(v3))


def test_chunks_over_the_chunk_size_limit_are_refused() -> None:
    grid = {"name": "regular", "configuration": {"chunk_shape": [2**30]}}
    error = _open_error({"a/zarr.json": _v3_array(chunk_grid=grid)})
    assert isinstance(error, InvalidMetadataError)
    assert "metadata.max_chunk_bytes" in str(error)
    with config.set({"metadata.max_chunk_bytes": 2**33}):
        array = cloudzarr.open(
            _store({"a/zarr.json": _v3_array(chunk_grid=grid)}), path="a", mode="r"
        )
    assert array.chunks == (2**30,)


def test_lone_surrogates_in_a_stored_document_are_refused_naming_the_field() -> None:
    raw = b'{"zarr_format": 3, "node_type": "group", "attributes": {"x": [1, "\\ud800"]}}'
    error = _open_error({"a/zarr.json": raw})
    assert isinstance(error, InvalidMetadataError)
    assert "['attributes']['x'][1]" in str(error)
    raw = b'{"zarr_format": 2}'
    error = _open_error({"a/.zgroup": raw, "a/.zattrs": b'{"\\udc00": 1}'}, zarr_format=2)
    assert isinstance(error, InvalidMetadataError) and "a/.zattrs" in str(error)


def _nested_sharding(depth: int) -> list[dict[str, Any]]:
    codecs: list[dict[str, Any]] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    for _ in range(depth):
        codecs = [
            {
                "name": "sharding_indexed",
                "configuration": {"chunk_shape": [1], "codecs": codecs},
            }
        ]
    return codecs


def test_deeply_nested_sharding_is_refused() -> None:
    doc = _v3_array(codecs=_nested_sharding(200))
    # Refused by the document's nesting depth first, and by the codec depth when that is raised.
    assert isinstance(_open_error({"a/zarr.json": doc}), InvalidMetadataError)
    with config.set({"metadata.max_depth": 5000}):
        error = _open_error({"a/zarr.json": doc})
    assert isinstance(error, InvalidMetadataError)
    assert f"nested more than {MAX_CODEC_DEPTH} deep" in str(error)
    # Nesting within the limit is fine.
    ok = cloudzarr.open(
        _store({"a/zarr.json": _v3_array(codecs=_nested_sharding(3))}), path="a", mode="r"
    )
    assert ok.shape == (4,)


@pytest.mark.parametrize(
    ("compressor", "expected"),
    [
        ({"id": "blosc", "cname": "foo"}, "bad compressor"),
        ({"id": "blosc", "cname": "lz4", "clevel": 2**40}, "clevel"),
        ({"id": "zlib", "level": 12}, "zlib"),
        ({"id": "zstd", "level": 2**40}, "zstd"),
        ({"id": "no-such-codec"}, "no-such-codec"),
    ],
)
def test_bad_v2_compressors_are_refused_at_open(compressor: dict[str, Any], expected: str) -> None:
    error = _open_error({"a/.zarray": _v2_array(compressor=compressor)}, zarr_format=2)
    assert isinstance(error, InvalidMetadataError | UnsupportedCodecError)
    assert "a/.zarray" in str(error) and "compressor" in str(error)
    assert expected in str(error)


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ({"name": "blosc", "configuration": {"cname": "foo"}}, "cname"),
        ({"name": "blosc", "configuration": {"typesize": 2**40}}, "typesize"),
        ({"name": "blosc", "configuration": {"blocksize": 2**31}}, "blocksize"),
        ({"name": "zstd", "configuration": {"level": -(2**40)}}, "level"),
        ({"name": "numcodecs.zlib", "configuration": {"level": 12}}, "zlib"),
    ],
)
def test_bad_v3_codec_parameters_are_refused_at_open(codec: dict[str, Any], expected: str) -> None:
    doc = _v3_array(codecs=[{"name": "bytes", "configuration": {"endian": "little"}}, codec])
    error = _open_error({"a/zarr.json": doc})
    assert isinstance(error, InvalidMetadataError)
    assert "a/zarr.json" in str(error) and "codecs[1]" in str(error) and expected in str(error)


# --- arguments users pass ------------------------------------------------------------------------


def test_attributes_with_lone_surrogates_are_refused_and_nothing_is_written() -> None:
    data: dict[str, bytes] = {}
    store = MemoryStore(store_dict=data)
    with pytest.raises(InvalidMetadataError, match=r"\['units'\]"):
        cloudzarr.create_group(store, attributes={"units": "m\udc80"})
    with pytest.raises(InvalidMetadataError, match=r"\['a'\]\[1\]"):
        cloudzarr.create_array(
            store, name="x", shape=(2,), dtype="i1", attributes={"a": [1, "\ud800"]}
        )
    assert data == {}
    group = cloudzarr.create_group(store, attributes={"ok": 1})
    before = dict(data)
    with pytest.raises(InvalidMetadataError, match=r"\['x'\]"):
        group.update_attributes({"x": "\ud800"})
    with pytest.raises(InvalidMetadataError, match=r"\['y'\]\[1\]\['z'\]"):
        group.attrs["y"] = ["fine", {"z": "\udfff"}]
    assert data == before


def test_attributes_nested_too_deeply_are_refused() -> None:
    deep: Any = 1
    for _ in range(10_000):  # far deeper than Python's recursion limit
        deep = {"d": deep}
    with pytest.raises(InvalidMetadataError, match="nested more than 128 levels"):
        cloudzarr.create_group(MemoryStore(), attributes={"deep": deep})


def test_bad_codec_arguments_fail_at_create_not_at_write() -> None:
    data: dict[str, bytes] = {}
    store = MemoryStore(store_dict=data)
    with pytest.raises(InvalidMetadataError, match="compressor"):
        cloudzarr.create_array(
            store, name="v2", shape=(4,), dtype="f8", zarr_format=2,
            compressors={"id": "blosc", "cname": "nope"},
        )  # fmt: skip
    with pytest.raises(InvalidMetadataError, match="cname"):
        cloudzarr.create_array(
            store, name="v3", shape=(4,), dtype="f8", compressors={"id": "blosc", "cname": "nope"}
        )
    with pytest.raises(InvalidMetadataError, match="shape"):
        cloudzarr.create_array(store, name="big", shape=(2**63,), dtype="f8")
    assert data == {}


def test_metadata_objects_refuse_what_documents_cannot_hold() -> None:
    with pytest.raises(InvalidMetadataError, match="shape"):
        ArrayMetadataV3(
            shape=(2**63,), dtype=np.dtype("f8"), chunks=(2,), fill_value=0.0, codecs=()
        )
    with pytest.raises(InvalidMetadataError, match=r"\['k'\]"):
        dump_document({"k": "\ud800"})
    with pytest.raises(InvalidMetadataError, match=r"a\.json"):
        load_document(b"[" * 200_000 + b"]" * 200_000, "a.json")
