"""ConsolidatedMetadata: flat/nested views (zarr-python's _flat_to_nested and
flattened_metadata behaviours), v2 and v3 forms, validation, changes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloudzarr.arrays import build_array_metadata
from cloudzarr.errors import ConsolidatedMetadataError
from cloudzarr.metadata.consolidated import ConsolidatedMetadata
from cloudzarr.metadata.group import GroupMetadataV2, GroupMetadataV3

ARR = build_array_metadata(shape=(2, 2), dtype="f4")
ARR2 = build_array_metadata(shape=(2,), dtype="i1", zarr_format=2)


def sample() -> ConsolidatedMetadata:
    return ConsolidatedMetadata.from_nodes(
        {
            "a": GroupMetadataV3(attributes={"x": 1}),
            "a/b": GroupMetadataV3(),
            "a/b/arr": ARR,
            "a/c": ARR,
            "top": ARR,
        }
    )


def test_nested_view_of_flat_entries() -> None:
    cm = sample()
    assert sorted(cm.metadata) == ["a", "top"]
    a = cm.metadata["a"]
    assert isinstance(a, GroupMetadataV3)
    assert a.consolidated_metadata is not None
    assert sorted(a.consolidated_metadata.metadata) == ["b", "c"]
    b = a.consolidated_metadata.metadata["b"]
    assert b.consolidated_metadata is not None
    assert list(b.consolidated_metadata.metadata) == ["arr"]
    assert b.consolidated_metadata.metadata["arr"] == ARR
    assert cm.children("a") == ["b", "c"]
    assert cm.node_type("a/b") == "group" and cm.node_type("nope") is None


def test_flattened_metadata_is_the_inverse() -> None:
    cm = sample()
    flat = cm.flattened_metadata
    assert sorted(flat) == ["a", "a/b", "a/b/arr", "a/c", "top"]
    assert flat["a"] == GroupMetadataV3(attributes={"x": 1})  # no nested consolidated metadata
    assert cm.subtree("a").flattened_metadata == {"b": GroupMetadataV3(), "b/arr": ARR, "c": ARR}
    assert ConsolidatedMetadata.from_nodes(flat) == cm


def test_iter_nodes_depth() -> None:
    cm = sample()
    assert [p for p, _ in cm.iter_nodes(0)] == ["a", "top"]
    assert [p for p, _ in cm.iter_nodes(1)] == ["a", "a/b", "a/c", "top"]
    assert len(list(cm.iter_nodes(None))) == 5


def test_v3_inline_round_trip_matches_zarr_python_layout() -> None:
    doc = sample().to_dict()
    assert doc["kind"] == "inline" and doc["must_understand"] is False
    assert doc["metadata"]["a/b"]["consolidated_metadata"] == {
        "kind": "inline",
        "must_understand": False,
        "metadata": {},
    }
    again = ConsolidatedMetadata.from_dict(json.loads(json.dumps(doc)))
    assert again == sample()
    assert again.to_dict() == doc


def test_nested_inline_documents_are_flattened() -> None:
    nested = {
        "kind": "inline",
        "must_understand": False,
        "metadata": {
            "a": {
                "zarr_format": 3,
                "node_type": "group",
                "attributes": {},
                "consolidated_metadata": {
                    "kind": "inline",
                    "must_understand": False,
                    "metadata": {"arr": ARR.to_dict()},
                },
            }
        },
    }
    cm = ConsolidatedMetadata.from_dict(nested)
    assert cm.paths() == ["a", "a/arr"]
    assert cm["a/arr"] == ARR


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d["metadata"].pop("a/b"), "parent group 'a/b'"),
        (lambda d: d["metadata"].__setitem__("top/x", ARR.to_dict()), "array"),
        (lambda d: d["metadata"]["a"].__setitem__("node_type", "blob"), "node_type"),
        (lambda d: d.__setitem__("kind", "external"), "kind"),
        (lambda d: d.__setitem__("metadata", []), "metadata"),
        (lambda d: d["metadata"].__setitem__("bad", 3), "bad"),
    ],
)
def test_malformed_inline_documents(mutate, match: str) -> None:  # type: ignore[no-untyped-def]
    doc = sample().to_dict()
    mutate(doc)
    with pytest.raises(ConsolidatedMetadataError, match=match):
        ConsolidatedMetadata.from_dict(doc)


def test_v2_zmetadata_round_trip() -> None:
    cm = ConsolidatedMetadata.from_nodes(
        {"g": GroupMetadataV2(attributes={"a": 1}), "g/arr": ARR2.with_attributes({"u": 2})}
    )
    doc = cm.to_zmetadata(GroupMetadataV2(attributes={"root": 1}))
    assert doc["zarr_consolidated_format"] == 1
    meta = doc["metadata"]
    assert meta[".zgroup"] == {"zarr_format": 2} and meta[".zattrs"] == {"root": 1}
    assert meta["g/.zattrs"] == {"a": 1} and meta["g/arr/.zattrs"] == {"u": 2}
    assert meta["g/arr/.zarray"]["shape"] == [2]
    back = ConsolidatedMetadata.from_zmetadata(json.loads(json.dumps(doc)))
    assert back == cm
    assert back["g"].attributes == {"a": 1}


def test_v2_zmetadata_errors() -> None:
    with pytest.raises(ConsolidatedMetadataError, match="zarr_consolidated_format"):
        ConsolidatedMetadata.from_zmetadata({"metadata": {}, "zarr_consolidated_format": 2})
    with pytest.raises(ConsolidatedMetadataError, match=r"x/\.weird"):
        ConsolidatedMetadata.from_zmetadata(
            {"metadata": {"x/.weird": {}}, "zarr_consolidated_format": 1}
        )
    with pytest.raises(ConsolidatedMetadataError, match="parent group 'g'"):
        ConsolidatedMetadata.from_zmetadata(
            {"metadata": {"g/a/.zarray": ARR2.to_dict()}, "zarr_consolidated_format": 1}
        )


def test_changes_return_new_objects() -> None:
    cm = sample()
    added = cm.with_nodes({"a/b/new": ARR})
    assert "a/b/new" in added and "a/b/new" not in cm
    assert cm.without("a").paths() == ["top"]
    with pytest.raises(ConsolidatedMetadataError, match="parent group 'z'"):
        cm.moved("a", "z/y")
    ok = cm.with_nodes({"z": GroupMetadataV3()}).moved("a", "z/y")
    assert ok.paths() == ["top", "z", "z/y", "z/y/b", "z/y/b/arr", "z/y/c"]
    with pytest.raises(ConsolidatedMetadataError):
        cm.with_nodes({"nowhere/x": ARR})
    replaced = cm.with_nodes({"a": ARR})  # an array replacing a group drops its subtree
    assert replaced.paths() == ["a", "top"]


def test_large_document_is_parsed_lazily() -> None:
    flat: dict[str, Any] = {f"g{i}": GroupMetadataV3() for i in range(10)}
    flat.update({f"g{i}/h{j}": GroupMetadataV3() for i in range(10) for j in range(10)})
    flat.update({f"g{i}/h{j}/a{k}": ARR for i in range(10) for j in range(10) for k in range(10)})
    root = GroupMetadataV3(consolidated_metadata=ConsolidatedMetadata.from_nodes(flat))
    data = root.to_documents()["zarr.json"]
    assert len(data) > 400_000  # compact JSON: consolidated documents are not indented
    parsed = GroupMetadataV3.from_dict(json.loads(data))
    cm = parsed.consolidated_metadata
    assert cm is not None and len(cm) == 1110
    # Opening builds no node object (speed is timed in benchmarks/bench_hierarchy.py): the
    # cost is json.loads plus one pass over the keys. Nodes are built on first use.
    assert cm._index._parsed == {}
    assert cm["g3/h4/a5"] == ARR
    assert list(cm._index._parsed) == ["g3/h4/a5"]
