"""Errors raised where zarr-python expects a builtin type that cloudzarr's own class lacks.

zarr-python's callers and its store test-suite catch ``ValueError`` for a write to a read-only
store and ``TypeError``/``ValueError`` for a byte request of an unknown kind. These classes keep
cloudzarr's hierarchy (``except cloudzarr.errors.ReadOnlyError`` still works) and add the
builtin zarr-python expects.
"""

from __future__ import annotations

from cloudzarr.errors import ReadOnlyError, StoreError


class ZarrReadOnlyError(ReadOnlyError, ValueError):
    """A write through the zarr-python adapter to a read-only store.

    The message contains zarr-python's own sentence ("store was opened in read-only mode and
    does not support writing") so code matching on it keeps working.
    """


class UnsupportedByteRequestError(StoreError, TypeError):
    """A byte request that is neither zarr-python's nor cloudzarr's range, offset or suffix."""


__all__ = ["UnsupportedByteRequestError", "ZarrReadOnlyError"]
