"""Polish of the top-level functions against zarr-python 3.4.2's behaviour."""

from __future__ import annotations

import pathlib

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
    for name in ("arrays/arguments.py", "arrays/values.py"):
        tree = ast.parse((root / name).read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert "_castable" not in names, name
        assert "castable" in names, name


@pytest.mark.parametrize("name", ["gzip", "zstd", "blosc"])
@pytest.mark.parametrize("fmt", [2, 3])
def test_short_compressor_names_work_in_both_formats(
    name: str, fmt: int, tmp_path: pathlib.Path
) -> None:
    import numpy as np
    import zarr

    values = np.arange(100, dtype="int32").reshape(10, 10)
    a = cloudzarr.create_array(
        str(tmp_path),
        shape=(10, 10),
        dtype="int32",
        chunks=(5, 5),
        compressors=name,
        zarr_format=fmt,
    )
    a[...] = values
    back = cloudzarr.open_array(str(tmp_path), mode="r")
    np.testing.assert_array_equal(back[...], values)
    z = zarr.open_array(str(tmp_path), mode="r")
    np.testing.assert_array_equal(z[...], values)
    if fmt == 2:
        import numcodecs

        # The numcodecs codec of that id, with its default configuration.
        want = numcodecs.get_codec({"id": name}).get_config()
        got = dict(a.metadata.compressor)  # type: ignore[union-attr]
        assert got["id"] == name
        assert {k: v for k, v in want.items() if k in got} == got
        assert z.metadata.zarr_format == 2
    else:
        assert [c.name for c in a.metadata.codecs][-1] == name  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["zlib", "numcodecs.zlib"])
def test_v2_takes_numcodecs_ids_by_name(name: str, tmp_path: pathlib.Path) -> None:
    import numpy as np
    import zarr

    a = cloudzarr.create_array(
        str(tmp_path), shape=(4,), dtype="int16", compressors=name, zarr_format=2
    )
    a[...] = np.arange(4)
    assert dict(a.metadata.compressor)["id"] == "zlib"  # type: ignore[union-attr]
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path), mode="r")[...], np.arange(4))


@pytest.mark.parametrize("fmt", [2, 3])
def test_unknown_compressor_name_is_unsupported_codec_error(fmt: int) -> None:
    from cloudzarr.errors import UnsupportedCodecError

    store = MemoryStore()
    with pytest.raises(UnsupportedCodecError, match="nosuchcodec"):
        cloudzarr.create_array(
            store, shape=(4,), dtype="i4", compressors="nosuchcodec", zarr_format=fmt
        )
    assert cloudzarr.sync.sync(_count_keys(store)) == 0


async def _count_keys(store: MemoryStore) -> int:
    return len([k async for k in store.list()])


@pytest.mark.parametrize("fmt", [2, 3])
def test_array_info_prints_a_table_like_groups(fmt: int) -> None:
    store = MemoryStore()
    root = cloudzarr.create_group(store, zarr_format=fmt)
    a = root.create_array("x/a", shape=(4, 6), dtype="int16", chunks=(2, 3))
    a[...] = 1
    text = str(a.info)
    lines = text.splitlines()
    # The same layout as a group's: "<label padded> : <value>" on every line.
    group_lines = str(root.info).splitlines()
    assert all(" : " in line for line in lines + group_lines)
    assert len({line.index(" : ") for line in lines}) == 1
    rows = dict(line.split(" : ", 1) for line in lines)
    rows = {k.strip(): v for k, v in rows.items()}
    assert rows["Name"] == "/x/a"
    assert rows["Type"] == "Array"
    assert rows["Zarr format"] == str(fmt)
    assert rows["Data type"] == "int16"
    assert rows["Shape"] == "(4, 6)"
    assert rows["Chunk shape"] == "(2, 3)"
    assert rows["No. chunks"] == "4"
    assert rows["No. bytes"] == "48"
    assert rows["Read-only"] == "False"
    assert "zstd" in rows["Compressors"].lower() and "{" not in rows["Compressors"]
    assert "Chunks initialized" not in rows
    complete = str(a.info_complete())
    assert "Chunks initialized : 4" in complete
    # Still a mapping, as before.
    assert a.info["chunks"] == (2, 3)
    assert a.async_array.info["shape"] == (4, 6)
    assert str(a.async_array.info) == text
