"""parse_v3 / parse_v2: the right class, or a typed error naming the path."""

from __future__ import annotations

import pytest

from cloudzarr.arrays import build_array_metadata
from cloudzarr.errors import InvalidMetadataError, NodeNotFoundError, UnsupportedFormatError
from cloudzarr.metadata import ArrayMetadataV2, ArrayMetadataV3
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3
from cloudzarr.metadata.node import parse_v2, parse_v3


def test_parse_v3_kinds() -> None:
    arr = build_array_metadata(shape=(3,), dtype="i2", attributes={"a": 1})
    parsed = parse_v3(arr.to_dict(), "p/a")
    assert isinstance(parsed, ArrayMetadataV3)
    assert parsed == arr
    group = parse_v3({"zarr_format": 3, "node_type": "group"}, "p")
    assert isinstance(group, GroupMetadataV3)


def test_parse_v3_memoised_layouts_keep_their_own_attributes() -> None:
    arr = build_array_metadata(shape=(3,), dtype="i2")
    first = parse_v3(arr.with_attributes({"k": 1}).to_dict(), "a")
    second = parse_v3(arr.with_attributes({"k": 2}).to_dict(), "b")
    assert first.attributes == {"k": 1}
    assert second.attributes == {"k": 2}
    assert second == arr.with_attributes({"k": 2})
    bad = arr.to_dict()
    bad["attributes"] = [1]
    with pytest.raises(InvalidMetadataError):
        parse_v3(bad, "c")


@pytest.mark.parametrize(
    "doc",
    [
        {"zarr_format": 2, "node_type": "group"},
        {"zarr_format": 3, "node_type": "table"},
        {"zarr_format": 3},
    ],
)
def test_parse_v3_refuses_unknown_forms(doc: dict) -> None:
    with pytest.raises(UnsupportedFormatError, match="where/here"):
        parse_v3(doc, "where/here")


def test_parse_v3_invalid_array_names_the_path() -> None:
    arr = build_array_metadata(shape=(3,), dtype="i2").to_dict()
    arr["shape"] = "long"
    with pytest.raises(InvalidMetadataError, match="deep/arr"):
        parse_v3(arr, "deep/arr")


def test_parse_v2() -> None:
    arr = build_array_metadata(shape=(3,), dtype="i2", zarr_format=2)
    parsed = parse_v2(arr.to_dict(), None, {"u": 1}, "x")
    assert isinstance(parsed, ArrayMetadataV2)
    assert parsed.attributes == {"u": 1}
    group = parse_v2(None, {"zarr_format": 2}, None, "g")
    assert isinstance(group, GroupMetadataV2) and group.attributes == {}
    with pytest.raises(InvalidMetadataError, match="ambiguous"):
        parse_v2(arr.to_dict(), {"zarr_format": 2}, None, "both")
    with pytest.raises(NodeNotFoundError, match="none"):
        parse_v2(None, None, {"a": 1}, "none")
    with pytest.raises(InvalidMetadataError, match="attrs"):
        parse_v2(None, {"zarr_format": 2}, [1], "attrs")  # type: ignore[arg-type]


def test_parse_v3_bytes_memoises_identical_documents() -> None:
    from cloudzarr.metadata.node import parse_v3_bytes

    arr = build_array_metadata(shape=(5,), dtype="u2")
    data = arr.to_documents()["zarr.json"]
    first = parse_v3_bytes(data, "x")
    assert first == arr
    assert parse_v3_bytes(bytes(data), "y") is first  # frozen, so one object is shared
    other = parse_v3_bytes(arr.with_attributes({"a": 1}).to_documents()["zarr.json"], "z")
    assert other.attributes == {"a": 1} and first.attributes == {}
    with pytest.raises(InvalidMetadataError, match=r"bad/zarr\.json"):
        parse_v3_bytes(b"[1, 2]", "bad")
