"""A newcomer's slips in calling group methods: each is a typed cloudzarr error naming the
argument or path, raised before anything is written."""

from __future__ import annotations

import pytest

from cloudzarr.errors import (
    CloudzarrError,
    InvalidArgumentError,
    UnsupportedFormatError,
)
from cloudzarr.groups.async_group import AsyncGroup
from cloudzarr.storage import MemoryStore


async def _keys(store: MemoryStore) -> list[str]:
    return sorted([k async for k in store.list()])


@pytest.mark.parametrize("fmt", [4, 1, "3", True])
async def test_create_unknown_format_is_unsupported_format_error(fmt: object) -> None:
    store = MemoryStore()
    with pytest.raises(UnsupportedFormatError, match=repr(fmt).replace("'", ".")):
        await AsyncGroup.create(store, zarr_format=fmt)  # type: ignore[arg-type]
    assert await _keys(store) == []


async def test_move_into_itself_is_invalid_argument_naming_both() -> None:
    store = MemoryStore()
    g = await AsyncGroup.create(store)
    await g.create_group("s")
    before = await _keys(store)
    with pytest.raises(InvalidArgumentError, match=r"'s'.*'s/t/u'"):
        await g.move("s", "s/t/u")
    with pytest.raises(InvalidArgumentError, match="'s'"):
        await g.move("s", "s")
    assert await _keys(store) == before


@pytest.mark.parametrize("depth", [-1, "1", 1.5, True])
async def test_members_bad_max_depth_is_invalid_argument(depth: object) -> None:
    g = await AsyncGroup.create(MemoryStore())
    with pytest.raises(InvalidArgumentError, match="max_depth"):
        [m async for m in g.members(max_depth=depth)]  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="max_depth"):
        await g.nmembers(max_depth=depth)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "/", "//"])
async def test_empty_member_name_is_invalid_argument(name: str) -> None:
    store = MemoryStore()
    g = await AsyncGroup.create(store)
    before = await _keys(store)
    with pytest.raises(InvalidArgumentError, match="empty"):
        await g.create_group(name)
    with pytest.raises(InvalidArgumentError, match="empty"):
        await g.create_array(name, shape=(2,), dtype="i4")
    with pytest.raises(InvalidArgumentError, match="empty"):
        await g.getitem(name)
    with pytest.raises(InvalidArgumentError, match="empty"):
        await g.delitem(name)
    assert await _keys(store) == before


def test_sync_group_empty_key_and_format() -> None:
    from cloudzarr.groups.group import Group

    g = Group.create(MemoryStore())
    with pytest.raises(InvalidArgumentError, match="empty") as info:
        g[""]
    assert isinstance(info.value, CloudzarrError)
    with pytest.raises(UnsupportedFormatError, match="4"):
        Group.create(MemoryStore(), zarr_format=4)


# --- create_array: the same argument checks and data= as the top-level create_array --------


def test_group_create_array_unknown_keyword_suggests_the_right_one() -> None:
    from cloudzarr.groups.group import Group

    store = MemoryStore()
    g = Group.create(store)
    with pytest.raises(InvalidArgumentError, match=r"'compressor'.*compressors="):
        g.create_array("a", shape=(2,), dtype="i4", compressor=None)
    with pytest.raises(InvalidArgumentError, match=r"'chunk'.*chunks="):
        g.create_array("a", shape=(2,), dtype="i4", chunk=(1,))
    assert "a" not in g


@pytest.mark.parametrize("fmt", [2, 3])
def test_group_create_array_with_data_round_trips(fmt: int) -> None:
    import numpy as np

    from cloudzarr.groups.group import Group

    g = Group.create(MemoryStore(), zarr_format=fmt)
    values = np.arange(12, dtype="int16").reshape(3, 4)
    a = g.create_array("sub/a", data=values, chunks=(2, 2))
    assert a.shape == (3, 4)
    assert a.dtype == np.dtype("int16")
    np.testing.assert_array_equal(g["sub/a"][...], values)  # type: ignore[index]
    b = g.create_array("b", data=[1.5, 2.5], dtype="float32")
    np.testing.assert_array_equal(b[...], np.array([1.5, 2.5], dtype="float32"))


async def test_async_group_create_array_data_checks_before_writing() -> None:
    import numpy as np

    store = MemoryStore()
    g = await AsyncGroup.create(store)
    before = await _keys(store)
    with pytest.raises(InvalidArgumentError, match="shape"):
        await g.create_array("a", data=np.zeros(3), shape=(4,))
    with pytest.raises(InvalidArgumentError, match="dtype"):
        await g.create_array("a", data=np.array([1.5]), dtype="int8")
    with pytest.raises(InvalidArgumentError, match="shape="):
        await g.create_array("a", dtype="i4")
    assert await _keys(store) == before


@pytest.mark.parametrize("name", ["", "/"])
async def test_empty_path_is_not_a_member(name: str) -> None:
    # ``in`` answers rather than raises, and agrees with ``g[name]`` refusing it.
    g = await AsyncGroup.create(MemoryStore())
    assert await g.contains(name) is False


def test_sync_in_with_empty_path_is_false() -> None:
    from cloudzarr.groups.group import Group

    g = Group.create(MemoryStore())
    g.create_group("a")
    assert "" not in g
    assert "a" in g


@pytest.mark.parametrize("level", [-1, "1", 1.5, True])
async def test_tree_bad_level_is_invalid_argument(level: object) -> None:
    g = await AsyncGroup.create(MemoryStore())
    with pytest.raises(InvalidArgumentError, match="level"):
        await g.tree(level=level)  # type: ignore[arg-type]


@pytest.mark.parametrize("level", [0, 1, 2, None])
def test_tree_levels_show_what_zarr_python_shows(level: int | None) -> None:
    import zarr

    import cloudzarr

    theirs = zarr.group(zarr.storage.MemoryStore())
    ours = cloudzarr.create_group("memory://")
    for g in (theirs, ours):
        g.create_group("a").create_group("b").create_group("c")
        g.create_group("x")

    def names(text: str) -> list[str]:
        return [line.lstrip("│├└─ ").split(" ")[0] for line in str(text).splitlines()[1:]]

    assert names(ours.tree(level=level)) == names(theirs.tree(level=level))
