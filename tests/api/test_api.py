"""The sync top-level API and the sync Group wrapper."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import cloudzarr
from cloudzarr.errors import ArrayNotFoundError, ContainsArrayError, NodeNotFoundError
from cloudzarr.metadata.group import GroupMetadataV3
from cloudzarr.storage import MemoryStore


def test_local_path_and_url(tmp_path: Path) -> None:
    root = cloudzarr.open_group(str(tmp_path / "h"), mode="w", attributes={"a": 1})
    root.create_array("x/y", shape=(3,), dtype="i4")[:] = [1, 2, 3]
    again = cloudzarr.open_group(f"file://{tmp_path / 'h'}", mode="r")
    assert again.attrs == {"a": 1}
    assert again["x/y"][:].tolist() == [1, 2, 3]
    assert again.read_only


def test_sync_group_surface() -> None:
    store = MemoryStore()
    root = cloudzarr.create_group(store)
    root.create_group("b")
    root.create_array("a", shape=(2, 3), dtype="f8")
    root.create_group("b/c").create_array("d", shape=(1,), dtype="u1")

    members = root.members(max_depth=None)
    assert isinstance(members, tuple)
    assert [p for p, _ in members] == ["a", "b", "b/c", "b/c/d"]
    assert isinstance(members[0][1], cloudzarr.Array)
    assert isinstance(members[1][1], cloudzarr.Group)
    assert list(root) == ["a", "b"] == list(root.keys())
    assert len(root) == 2
    assert "b/c/d" in root and "zzz" not in root
    assert list(root.array_keys()) == ["a"]
    assert list(root.group_keys()) == ["b"]
    assert [n for n, _ in root.arrays()] == ["a"]
    assert [n for n, _ in root.groups()] == ["b"]
    assert root.get("missing") is None
    with pytest.raises(KeyError):
        root["missing"]
    tree = root.tree()
    assert tree.splitlines() == [
        "/",
        "├── a (2, 3) float64",
        "└── b",
        "    └── c",
        "        └── d (1,) uint8",
    ]
    assert "b" in root.tree(level=0) and "c" not in root.tree(level=0)
    assert "c" in root.tree(level=1) and "d" not in root.tree(level=1)
    assert repr(tree) == str(tree)  # shows as the tree at a prompt
    info = root.info_complete()
    assert (info.count_members, info.count_arrays, info.count_groups) == (4, 2, 2)
    assert "No. arrays" in str(info) and "Zarr format" in str(root.info)
    del root["b"]
    assert list(root) == ["a"]
    assert not any(k.startswith("b/") for k in store._data)


def test_attrs_mapping_persists() -> None:
    store = MemoryStore()
    root = cloudzarr.create_group(store)
    root.attrs["k"] = [1, 2]
    root.attrs.update({"m": "n"})
    del root.attrs["k"]
    assert cloudzarr.open_group(store, mode="r").attrs == {"m": "n"}
    root.update_attributes({"z": 0})
    assert dict(cloudzarr.open_group(store, mode="r").attrs) == {"m": "n", "z": 0}


def test_open_either_kind_and_open_array_modes() -> None:
    store = MemoryStore()
    arr = cloudzarr.create_array(store, name="g/arr", shape=(4,), dtype="i2", fill_value=5)
    assert cloudzarr.open(store, path="g/arr").shape == (4,)
    assert isinstance(cloudzarr.open(store, path="g"), cloudzarr.Group)
    with pytest.raises(NodeNotFoundError):
        cloudzarr.open(store, path="nothing", mode="r")
    opened = cloudzarr.open_array(store, path="g/arr", mode="r")
    assert opened[:].tolist() == [5, 5, 5, 5]
    with pytest.raises(ArrayNotFoundError):
        cloudzarr.open_array(store, path="g/none", mode="r+")
    made = cloudzarr.open_array(store, path="g/new", mode="a", shape=(2,), dtype="f4")
    assert made.dtype == np.dtype("float32")
    with pytest.raises(ContainsArrayError):
        cloudzarr.open_array(store, path="g/arr", mode="w-", shape=(1,), dtype="i1")
    replaced = cloudzarr.open_array(store, path="g/arr", mode="w", shape=(1,), dtype="i1")
    assert replaced.shape == (1,) and arr.shape == (4,)
    created = cloudzarr.open(store, path="fresh", mode="a")
    assert isinstance(created, cloudzarr.Group)


def test_hierarchy_functions() -> None:
    store = MemoryStore()
    nodes = {"a/b": GroupMetadataV3(attributes={"q": 1})}
    created = cloudzarr.create_hierarchy(store=store, nodes=nodes)
    assert sorted(created) == ["", "a", "a/b"]
    assert created["a/b"].attrs == {"q": 1}
    root = cloudzarr.create_rooted_hierarchy(store=MemoryStore(), nodes=nodes)
    assert isinstance(root, cloudzarr.Group) and root.path == ""
    consolidated = cloudzarr.consolidate_metadata(store)
    assert consolidated.metadata.consolidated_metadata is not None
    assert cloudzarr.open_consolidated(store)["a/b"].attrs == {"q": 1}


def test_groups_pickle() -> None:
    store = MemoryStore()
    root = cloudzarr.create_group(store, attributes={"p": 1})
    clone = pickle.loads(pickle.dumps(root))
    assert clone.attrs == {"p": 1} and clone.path == ""
    root.create_array("a/b", shape=(2,), dtype="i1")
    consolidated = cloudzarr.consolidate_metadata(store)
    for group in (consolidated, consolidated["a"]):
        copy = pickle.loads(pickle.dumps(group))
        assert copy.metadata == group.metadata
        assert [p for p, _ in copy.members(max_depth=None)] == [
            p for p, _ in group.members(max_depth=None)
        ]
