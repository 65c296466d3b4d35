"""A newcomer's slips in calling the top-level functions: each is a typed error naming the
argument, raised before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import cloudzarr
from cloudzarr.errors import (
    CloudzarrError,
    ContainsArrayError,
    InvalidArgumentError,
    UnsupportedFormatError,
)
from cloudzarr.metadata.group import GroupMetadataV3
from cloudzarr.storage import MemoryStore


def _keys(store: MemoryStore) -> list[str]:
    return sorted(cloudzarr.sync.sync(_collect(store)))


async def _collect(store: MemoryStore) -> list[str]:
    return [k async for k in store.list()]


def _calls_with_mode(mode: str) -> list[Callable[[MemoryStore], Any]]:
    return [
        lambda s: cloudzarr.open_group(s, mode=mode),  # type: ignore[arg-type]
        lambda s: cloudzarr.open_array(s, mode=mode, shape=(2,), dtype="i4"),  # type: ignore[arg-type]
        lambda s: cloudzarr.open(s, mode=mode),  # type: ignore[arg-type]
        lambda s: cloudzarr.open_consolidated(s, mode=mode),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("call", range(4))
@pytest.mark.parametrize("mode", ["rw", "x", "R", ""])
def test_a_bad_mode_is_named_and_nothing_is_sent(call: int, mode: str) -> None:
    store = MemoryStore()
    with pytest.raises(InvalidArgumentError, match=f"mode must be one of .*got {mode!r}") as err:
        _calls_with_mode(mode)[call](store)
    # zarr-python raises ValueError here, Python would raise TypeError: both keep catching it.
    assert isinstance(err.value, ValueError) and isinstance(err.value, TypeError)
    assert store.requests.total == 0


@pytest.mark.parametrize(
    ("given", "suggested"),
    [("compressor", "compressors"), ("chunk", "chunks"), ("dimension_name", "dimension_names"),
     ("attrs", "attributes"), ("shard_shape", "shards")],
)  # fmt: skip
def test_a_mistyped_array_argument_gets_a_suggestion(given: str, suggested: str) -> None:
    store = MemoryStore()
    with pytest.raises(InvalidArgumentError, match=f"'{given}'; did you mean {suggested}=") as e:
        cloudzarr.create_array(store, name="a", shape=(4,), dtype="i4", **{given: None})
    assert "create_array()" in str(e.value)
    with pytest.raises(InvalidArgumentError, match=f"open_array\\(\\).*'{given}'"):
        cloudzarr.open_array(store, path="a", mode="w", shape=(4,), dtype="i4", **{given: None})
    assert store.requests.total == 0


def test_an_unknown_argument_without_a_near_name_lists_what_is_taken() -> None:
    with pytest.raises(InvalidArgumentError, match=r"'colour'; it takes .*chunks.*fill_value"):
        cloudzarr.create_array(MemoryStore(), shape=(4,), dtype="i4", colour="red")


@pytest.mark.parametrize("mode", ["w", "w-"])
def test_creating_mode_without_shape_names_what_is_missing(mode: str) -> None:
    store = MemoryStore()
    with pytest.raises(InvalidArgumentError, match=f"open_array\\(mode='{mode}'\\) .*shape="):
        cloudzarr.open_array(store, mode=mode)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="needs dtype= \\(or data=\\)"):
        cloudzarr.open_array(store, mode=mode, shape=(3,))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"create_array\(\) .*shape= and dtype="):
        cloudzarr.create_array(store, name="a")
    assert store.requests.total == 0


def test_open_with_array_arguments_but_no_shape_does_not_make_a_group() -> None:
    store = MemoryStore()
    with pytest.raises(InvalidArgumentError, match=r"open\(\) got chunks, dtype without shape="):
        cloudzarr.open(store, mode="w", chunks=(2,), dtype="i4")
    assert store.requests.total == 0
    # Mode "a" looks first (one round of GETs), then refuses instead of writing a group.
    with pytest.raises(InvalidArgumentError, match="give shape= \\(or data=\\) for an array"):
        cloudzarr.open(store, mode="a", chunks=(2,))
    assert _keys(store) == []
    # A group's own arguments pass through.
    group = cloudzarr.open(store, mode="a", attributes={"title": "t"})
    assert isinstance(group, cloudzarr.Group) and dict(group.attrs) == {"title": "t"}


@pytest.mark.parametrize("fmt", [4, 1, "3", True])
def test_zarr_format_is_checked_before_any_io(fmt: Any) -> None:
    store = MemoryStore()
    with pytest.raises(UnsupportedFormatError, match=f"zarr_format must be 2 or 3, got {fmt!r}"):
        cloudzarr.create_group(store, zarr_format=fmt)
    with pytest.raises(UnsupportedFormatError, match="zarr_format must be 2, 3 or None"):
        cloudzarr.open_group(store, zarr_format=fmt)
    with pytest.raises(UnsupportedFormatError, match="zarr_format must be 2 or 3"):
        cloudzarr.create_array(store, shape=(1,), dtype="i1", zarr_format=fmt)
    assert store.requests.total == 0


def test_open_consolidated_refuses_use_consolidated_false() -> None:
    store = MemoryStore()
    with pytest.raises(InvalidArgumentError, match="use_consolidated=True or a key name, got Fa"):
        cloudzarr.open_consolidated(store, use_consolidated=False)
    assert store.requests.total == 0


def test_a_path_given_twice_to_create_hierarchy_is_named() -> None:
    store = MemoryStore()
    nodes = {"a/b": GroupMetadataV3(), "/a/b/": GroupMetadataV3()}
    with pytest.raises(InvalidArgumentError, match="node path '/a/b/' is given twice"):
        cloudzarr.create_hierarchy(store=store, nodes=nodes)
    assert store.requests.total == 0


# --- create_array(data=...) ----------------------------------------------------------------


def test_create_array_with_data_takes_shape_and_dtype_from_it() -> None:
    store = MemoryStore()
    values = np.arange(12, dtype="uint16").reshape(3, 4)
    arr = cloudzarr.create_array(store, name="x/y", data=values, chunks=(2, 2))
    assert (arr.shape, arr.dtype, arr.chunks) == ((3, 4), np.dtype("uint16"), (2, 2))
    reopened = cloudzarr.open_array(store, path="x/y", mode="r")
    np.testing.assert_array_equal(reopened[...], values)


def test_create_array_with_data_and_an_explicit_dtype_converts() -> None:
    store = MemoryStore()
    arr = cloudzarr.create_array(store, data=[1, 2, 3], dtype="float32")
    assert arr.dtype == np.dtype("float32")
    np.testing.assert_array_equal(arr[...], np.array([1, 2, 3], dtype="float32"))
    # Integers of the other signedness are stored when they fit, as assignment allows.
    fits = cloudzarr.create_array(MemoryStore(), data=np.array([0, 200]), dtype="uint8")
    np.testing.assert_array_equal(fits[...], np.array([0, 200], dtype="uint8"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": np.zeros((2, 3)), "shape": (3, 2)}, "data has shape \\(2, 3\\) but shape="),
        ({"data": np.ones(3) * 1.5, "dtype": "int32"}, "dtype float64 cannot be stored as"),
        ({"data": np.array([-1, 300]), "dtype": "uint8"}, "dtype int64 cannot be stored as"),
    ],
)
def test_data_that_does_not_fit_is_refused_before_anything_is_created(
    kwargs: dict[str, Any], message: str
) -> None:
    store = MemoryStore()
    with pytest.raises(InvalidArgumentError, match=message):
        cloudzarr.create_array(store, name="a", **kwargs)
    assert _keys(store) == []


def test_create_array_with_data_over_an_existing_array_writes_nothing() -> None:
    store = MemoryStore()
    first = cloudzarr.create_array(store, name="a", data=np.arange(4))
    with pytest.raises(ContainsArrayError):
        cloudzarr.create_array(store, name="a", data=np.full(4, 9))
    np.testing.assert_array_equal(first[...], np.arange(4))


def test_every_new_error_is_a_cloudzarr_error() -> None:
    assert issubclass(InvalidArgumentError, CloudzarrError)
