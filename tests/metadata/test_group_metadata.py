"""GroupMetadataV2/V3: round trips, validation, documents."""

from __future__ import annotations

import json

import pytest

from cloudzarr.errors import InvalidMetadataError, UnsupportedFormatError
from cloudzarr.metadata.frozen import thaw
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3


def test_v3_round_trip_and_documents() -> None:
    doc = {"zarr_format": 3, "node_type": "group", "attributes": {"a": [1, {"b": None}]}}
    meta = GroupMetadataV3.from_dict(doc)
    assert meta.to_dict() == doc
    assert json.loads(meta.to_documents()["zarr.json"]) == doc
    assert meta.with_attributes({"c": 1}).attributes == {"c": 1}
    assert thaw(meta.attributes) == {"a": [1, {"b": None}]}
    with pytest.raises(TypeError):
        meta.attributes["x"] = 1  # type: ignore[index]
    assert hash(meta) == hash(GroupMetadataV3.from_dict(doc))


def test_v3_missing_attributes_defaults_to_empty() -> None:
    assert GroupMetadataV3.from_dict({"zarr_format": 3, "node_type": "group"}).attributes == {}


def test_v3_extensions() -> None:
    kept = {"zarr_format": 3, "node_type": "group", "ext": {"must_understand": False, "v": 1}}
    meta = GroupMetadataV3.from_dict(kept)
    assert meta.to_dict()["ext"] == {"must_understand": False, "v": 1}
    with pytest.raises(UnsupportedFormatError, match="'ext'"):
        GroupMetadataV3.from_dict({**kept, "ext": {"must_understand": True}})
    with pytest.raises(UnsupportedFormatError, match="'weird'"):
        GroupMetadataV3.from_dict({"zarr_format": 3, "node_type": "group", "weird": 1})


@pytest.mark.parametrize(
    ("doc", "error", "field"),
    [
        ({"zarr_format": 2, "node_type": "group"}, UnsupportedFormatError, "zarr_format"),
        ({"zarr_format": 3, "node_type": "array"}, UnsupportedFormatError, "node_type"),
        (
            {"zarr_format": 3, "node_type": "group", "attributes": [1]},
            InvalidMetadataError,
            "attributes",
        ),
    ],
)
def test_v3_invalid_documents_name_the_field(doc: dict, error: type, field: str) -> None:
    with pytest.raises(error, match=field) as info:
        GroupMetadataV3.from_dict(doc, path="x/y")
    assert "x/y" in str(info.value)


def test_v2_documents() -> None:
    meta = GroupMetadataV2.from_dict({"zarr_format": 2}, {"a": 1})
    docs = meta.to_documents()
    assert json.loads(docs[".zgroup"]) == {"zarr_format": 2}
    assert json.loads(docs[".zattrs"]) == {"a": 1}
    assert ".zattrs" not in GroupMetadataV2().to_documents()
    assert meta.to_dict() == {"zarr_format": 2}
    # zarr-python's merged form and its consolidated_metadata field in .zgroup entries
    merged = {"zarr_format": 2, "attributes": {"b": 2}, "consolidated_metadata": None}
    assert GroupMetadataV2.from_dict(merged).attributes == {"b": 2}
    with pytest.raises(UnsupportedFormatError):
        GroupMetadataV2.from_dict({"zarr_format": 3})
    with pytest.raises(InvalidMetadataError, match=r"\.zattrs"):
        GroupMetadataV2.from_dict({"zarr_format": 2}, "nope")  # type: ignore[arg-type]
