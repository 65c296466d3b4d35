"""A member cloudzarr cannot read never hides its siblings (issue 12).

Listing, ``members``, ``tree`` and consolidated open list every node; only opening the
unreadable one raises a typed error that names it and says why.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import cloudzarr
from cloudzarr.errors import MetadataError, UnsupportedDataTypeError
from cloudzarr.metadata.unreadable import UnreadableNode
from cloudzarr.storage import MemoryStore
from cloudzarr.sync import sync


def _hierarchy(zarr_format: int) -> MemoryStore:
    store = MemoryStore()
    root = cloudzarr.open_group(store, mode="w", zarr_format=zarr_format)
    root.create_array("good", shape=(3,), dtype="int16")
    root.create_group("sub").create_array("inner", shape=(2,), dtype="f4")
    root.create_array("bad", shape=(3,), dtype="int16")
    # Overwrite "bad" with a type no library here knows.
    if zarr_format == 3:
        key = "bad/zarr.json"
        doc = json.loads(bytes(sync(store.get(key))))
        doc["data_type"] = {"name": "my.custom_type", "configuration": {}}
    else:
        key = "bad/.zarray"
        doc = json.loads(bytes(sync(store.get(key))))
        doc["dtype"] = "|O"
        doc["filters"] = [{"id": "pickle"}]
        doc["fill_value"] = None
    sync(store.set(key, json.dumps(doc).encode()))
    return store


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_listing_members_and_tree_show_every_node(zarr_format: int) -> None:
    store = _hierarchy(zarr_format)
    root = cloudzarr.open_group(store, mode="r", use_consolidated=False)
    assert list(root.keys()) == ["bad", "good", "sub"]
    assert len(root) == 3
    members = dict(root.members(max_depth=None))
    assert sorted(members) == ["bad", "good", "sub", "sub/inner"]
    bad = members["bad"]
    assert isinstance(bad, UnreadableNode)
    assert bad.node_type == "array" and bad.name == "/bad"
    assert isinstance(bad.error, UnsupportedDataTypeError)
    assert "bad" in str(bad.error)
    assert list(root.array_keys()) == ["good"]
    assert list(root.group_keys()) == ["sub"]
    tree = root.tree()
    assert "bad (unreadable: UnsupportedDataTypeError" in tree
    assert "good (3,) int16" in tree and "inner (2,) float32" in tree
    np.testing.assert_array_equal(root["good"][:], np.zeros(3, "int16"))
    with pytest.raises(UnsupportedDataTypeError, match="bad"):
        root["bad"]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_consolidating_names_the_unreadable_member(zarr_format: int) -> None:
    store = _hierarchy(zarr_format)
    with pytest.raises(MetadataError, match="bad"):
        cloudzarr.consolidate_metadata(store)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_consolidated_open_lists_every_node(zarr_format: int) -> None:
    # Consolidated by a library that could read it, then opened here.
    store = MemoryStore()
    root = cloudzarr.open_group(store, mode="w", zarr_format=zarr_format)
    root.create_array("good", shape=(3,), dtype="int16")
    root.create_group("sub").create_array("inner", shape=(2,), dtype="f4")
    root.create_array("bad", shape=(3,), dtype="int16")
    cloudzarr.consolidate_metadata(store)
    key = "zarr.json" if zarr_format == 3 else ".zmetadata"
    doc = json.loads(bytes(sync(store.get(key))))
    if zarr_format == 3:
        entry = doc["consolidated_metadata"]["metadata"]["bad"]
        entry["data_type"] = {"name": "my.custom_type", "configuration": {}}
    else:
        entry = doc["metadata"]["bad/.zarray"]
        entry["dtype"] = "|O"
        entry["filters"] = [{"id": "pickle"}]
        entry["fill_value"] = None
    sync(store.set(key, json.dumps(doc).encode()))
    root = cloudzarr.open_group(store, mode="r", use_consolidated=True)
    assert list(root.keys()) == ["bad", "good", "sub"]
    members = dict(root.members(max_depth=None))
    assert sorted(members) == ["bad", "good", "sub", "sub/inner"]
    bad = members["bad"]
    assert isinstance(bad, UnreadableNode) and bad.node_type == "array"
    assert "bad (unreadable: UnsupportedDataTypeError" in root.tree()
    np.testing.assert_array_equal(root["sub/inner"][:], np.zeros(2, "f4"))
    with pytest.raises(UnsupportedDataTypeError, match="bad"):
        root["bad"]
