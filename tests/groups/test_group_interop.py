"""Interop with zarr-python 3.4.2 both ways, consolidated and not, formats 2 and 3."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr

import cloudzarr
from cloudzarr.storage import LocalStore

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _zarr_members(group: zarr.Group) -> dict[str, str]:
    return {
        p: ("group" if isinstance(n, zarr.Group) else "array")
        for p, n in group.members(max_depth=None)
    }


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_opens_what_we_consolidate(tmp_path: Path, zarr_format: int) -> None:
    store = LocalStore(tmp_path)
    root = cloudzarr.create_group(store, zarr_format=zarr_format, attributes={"title": "t"})
    g = root.create_group("g", attributes={"n": 1})
    arr = g.create_array("deep/arr", shape=(5,), dtype="i4", chunks=(2,), attributes={"u": "m"})
    arr[:] = np.arange(5)
    root.create_array("top", shape=(2, 2), dtype="f8")
    cloudzarr.consolidate_metadata(store)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zg = zarr.open_consolidated(str(tmp_path), zarr_format=zarr_format)
    assert zg.metadata.consolidated_metadata is not None
    assert _zarr_members(zg) == {
        "g": "group",
        "g/deep": "group",
        "g/deep/arr": "array",
        "top": "array",
    }
    assert dict(zg.attrs) == {"title": "t"}
    assert dict(zg["g"].attrs) == {"n": 1}
    assert dict(zg["g/deep/arr"].attrs) == {"u": "m"}
    assert zg["g/deep/arr"][:].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_we_open_what_zarr_consolidates_in_one_round(tmp_path: Path, zarr_format: int) -> None:
    zg = zarr.create_group(str(tmp_path), zarr_format=zarr_format, attributes={"a": 1})
    sub = zg.create_group("s", attributes={"b": 2})
    za = sub.create_array("x", shape=(3,), dtype="u2", chunks=(3,))
    za[:] = [7, 8, 9]
    zg.create_group("s/t/u")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(tmp_path), zarr_format=zarr_format)

    store = LocalStore(tmp_path)
    group = cloudzarr.open_group(store, mode="r", zarr_format=zarr_format)
    gets = store.requests.snapshot()
    assert gets == {"get": 1 if zarr_format == 3 else 3}
    store.requests.reset()
    members = {p: type(n).__name__ for p, n in group.members(max_depth=None)}
    assert members == {"s": "Group", "s/t": "Group", "s/t/u": "Group", "s/x": "Array"}
    assert group["s"].attrs == {"b": 2}
    assert group.attrs == {"a": 1}
    assert store.requests.total == 0
    assert group["s/x"][:].tolist() == [7, 8, 9]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_plain_hierarchies_interoperate(tmp_path: Path, zarr_format: int) -> None:
    ours = tmp_path / "ours"
    theirs = tmp_path / "theirs"
    root = cloudzarr.create_group(LocalStore(ours), zarr_format=zarr_format)
    root.create_array("a/b", shape=(2,), dtype="i8")[:] = [4, 5]
    zroot = zarr.open_group(str(ours), mode="r")
    assert _zarr_members(zroot) == {"a": "group", "a/b": "array"}
    assert zroot["a/b"][:].tolist() == [4, 5]

    zg = zarr.create_group(str(theirs), zarr_format=zarr_format)
    zg.create_array("p/q", shape=(2,), dtype="f4")
    group = cloudzarr.open_group(LocalStore(theirs), mode="r")
    assert sorted(p for p, _ in group.members(max_depth=None)) == ["p", "p/q"]
    assert group["p/q"].dtype == np.dtype("float32")


def test_zarr_sees_our_consolidated_updates(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    root = cloudzarr.create_group(store)
    root.create_group("before")
    cloudzarr.consolidate_metadata(store)
    root = cloudzarr.open_group(store)
    root.create_array("after/arr", shape=(1,), dtype="i1")
    del root["before"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zg = zarr.open_consolidated(str(tmp_path))
    assert _zarr_members(zg) == {"after": "group", "after/arr": "array"}
