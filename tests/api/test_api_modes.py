"""The modes ``r``, ``r+``, ``a``, ``w``, ``w-`` behave as in zarr-python 3.4.2: for every top-level
opener, over nothing, a group and an array, the same calls succeed, the same fail, and the
store is left holding the same kind of node. Every failure is a typed cloudzarr error."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zarr

import cloudzarr
from cloudzarr.errors import CloudzarrError, NodeExistsError, NodeNotFoundError

Opener = Callable[[Any, str, str], Any]

OPENERS: dict[str, Opener] = {
    "open_group": lambda lib, p, m: lib.open_group(p, mode=m),
    "open_array": lambda lib, p, m: lib.open_array(p, mode=m, shape=(3,), dtype="i4"),
    "open": lambda lib, p, m: lib.open(p, mode=m),
    "open+shape": lambda lib, p, m: lib.open(p, mode=m, shape=(3,), dtype="i4"),
}

# Where zarr-python 3.4.2 fails by accident (a TypeError from passing shape= or mode="w-" on to
# a function that does not take it), cloudzarr does what the mode says.
ZARR_ACCIDENTS = {
    ("open", "nothing", "w-"): ("ok", "group"),
    ("open+shape", "group", "r"): ("ok", "group"),
    ("open+shape", "group", "r+"): ("ok", "group"),
}


def _prepare(path: str, kind: str) -> None:
    if kind == "group":
        zarr.create_group(path)
    elif kind == "array":
        zarr.create_array(path, shape=(2,), dtype="i4")


def _kind_there(path: str) -> str:
    try:
        node = zarr.open(path, mode="r")
    except (FileNotFoundError, KeyError):
        return "nothing"
    return "group" if isinstance(node, zarr.Group) else "array"


def _outcome(lib: Any, opener: Opener, path: str, mode: str) -> tuple[str, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opener(lib, path, mode)
    except Exception as exc:
        if lib is cloudzarr:
            assert isinstance(exc, CloudzarrError), f"untyped {type(exc).__name__}: {exc}"
        return "error", _kind_there(path)
    return "ok", _kind_there(path)


@pytest.mark.parametrize("mode", ["r", "r+", "a", "w", "w-"])
@pytest.mark.parametrize("kind", ["nothing", "group", "array"])
@pytest.mark.parametrize("opener", list(OPENERS))
def test_mode_semantics_match_zarr_python(
    tmp_path: Path, opener: str, kind: str, mode: str
) -> None:
    ours, theirs = str(tmp_path / "cloudzarr"), str(tmp_path / "zarr")
    _prepare(ours, kind)
    _prepare(theirs, kind)
    expected = ZARR_ACCIDENTS.get((opener, kind, mode)) or _outcome(
        zarr, OPENERS[opener], theirs, mode
    )
    assert _outcome(cloudzarr, OPENERS[opener], ours, mode) == expected


def test_missing_and_existing_nodes_keep_the_builtin_bases(tmp_path: Path) -> None:
    with pytest.raises(NodeNotFoundError) as missing:
        cloudzarr.open_group(tmp_path / "nothing", mode="r")
    assert isinstance(missing.value, KeyError)
    assert "no group at '/'" in str(missing.value)
    cloudzarr.create_group(tmp_path / "g")
    with pytest.raises(NodeExistsError) as exists:
        cloudzarr.open_group(tmp_path / "g", mode="w-")
    assert isinstance(exists.value, FileExistsError)
    assert "a group already exists at '/'" in str(exists.value)
