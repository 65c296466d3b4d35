"""Checks of the top-level functions' arguments, so a mistake is named before any I/O.

Each check lives with what it checks (array creation in :mod:`cloudzarr.arrays.arguments`, the
format in :mod:`cloudzarr.metadata.nodes_io`, depths in :mod:`cloudzarr.groups.discovery`);
the access mode, which only the top-level functions take, is checked here.

A newcomer's typical slips (``mode="rw"``, ``compressor=`` for ``compressors=``, ``mode="w"``
without ``shape=``) would otherwise surface as a bare ``TypeError`` from an inner function
whose name the caller never used; here they become :class:`InvalidArgumentError` naming the
argument and what to write instead.
"""

from __future__ import annotations

from cloudzarr.arrays.arguments import (
    array_from_data,
    check_array_kwargs,
    prepare_array,
    require_shape_and_dtype,
)
from cloudzarr.errors import InvalidArgumentError
from cloudzarr.groups.discovery import check_max_depth
from cloudzarr.metadata.nodes_io import check_format

__all__ = [
    "MODES",
    "array_from_data",
    "check_array_kwargs",
    "check_format",
    "check_max_depth",
    "check_mode",
    "prepare_array",
    "require_shape_and_dtype",
]

MODES = ("r", "r+", "a", "w", "w-")


def check_mode(mode: object) -> None:
    """Refuse a mode zarr-python would not take either."""
    if mode not in MODES:
        raise InvalidArgumentError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
