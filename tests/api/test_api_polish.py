"""Polish of the top-level functions against zarr-python 3.4.2's behaviour."""

from __future__ import annotations

import pytest

import cloudzarr
from cloudzarr.api import asynchronous as aapi
from cloudzarr.errors import ContainsArrayError, GroupNotFoundError
from cloudzarr.storage import MemoryStore


@pytest.mark.parametrize("mode", ["r", "r+", "a"])
async def test_open_group_on_v3_array_is_contains_array_error_in_one_round(mode: str) -> None:
    store = MemoryStore()
    await aapi.create_array(store, name="a", shape=(2,), dtype="i4")
    store.requests.reset()
    with pytest.raises(ContainsArrayError, match="'/a'") as info:
        await aapi.open_group(store, path="a", mode=mode)  # type: ignore[arg-type]
    assert "MemoryStore" in str(info.value)
    # The GETs that look for the group already say it is an array: nothing more is sent.
    assert store.requests.snapshot() == {"get": 4}


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_open_group_on_v2_array_stays_group_not_found(mode: str) -> None:
    # As zarr-python: the documents a format 2 group open reads do not include .zarray.
    store = MemoryStore()
    cloudzarr.create_array(store, name="a", shape=(2,), dtype="i4", zarr_format=2)
    with pytest.raises(GroupNotFoundError, match="'/a'"):
        cloudzarr.open_group(store, path="a", mode=mode)  # type: ignore[arg-type]


def test_open_group_on_v3_array_matches_zarr_python() -> None:
    import zarr
    import zarr.errors
    import zarr.storage

    zstore = zarr.storage.MemoryStore()
    zarr.create_array(zstore, name="a", shape=(2,), dtype="i4")
    with pytest.raises(zarr.errors.ContainsArrayError):
        zarr.open_group(zstore, path="a", mode="r")
    store = MemoryStore()
    cloudzarr.create_array(store, name="a", shape=(2,), dtype="i4")
    with pytest.raises(ContainsArrayError):
        cloudzarr.open_group(store, path="a", mode="r")


@pytest.mark.parametrize("path", ["", "x/y"])
def test_not_found_messages_name_path_and_store_alike(path: str) -> None:
    from cloudzarr.errors import ArrayNotFoundError, NodeNotFoundError

    store = MemoryStore()
    shown = "/" + path
    raised = []
    for call, kind in [
        (lambda: cloudzarr.open_array(store, path=path, mode="r"), ArrayNotFoundError),
        (lambda: cloudzarr.open_group(store, path=path, mode="r"), GroupNotFoundError),
        (lambda: cloudzarr.open(store, path=path, mode="r"), NodeNotFoundError),
    ]:
        with pytest.raises(kind) as info:
            call()
        raised.append(str(info.value))
    for message in raised:
        assert repr(shown) in message
        assert "MemoryStore(" in message


def test_castable_has_a_public_home_used_by_writes_and_data() -> None:
    import ast
    import pathlib

    import numpy as np

    from cloudzarr.arrays.casting import castable

    assert castable(np.arange(5), np.dtype("uint16"))
    assert not castable(np.array([70000]), np.dtype("int16"))
    assert not castable(np.array([1.5]), np.dtype("int8"))
    assert castable(np.array([], dtype="int64"), np.dtype("uint8"))
    # No module reaches into another's private helper for it any more.
    root = pathlib.Path(cloudzarr.__file__).parent
    for name in ("api/arguments.py", "arrays/async_array.py"):
        tree = ast.parse((root / name).read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert "_castable" not in names, name
        assert "castable" in names, name
