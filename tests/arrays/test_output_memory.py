"""Read outputs: large ones in 4 KiB pages unless ``array.huge_pages`` (arrays/scratch.py)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cloudzarr.arrays import AsyncArray, build_array_metadata
from cloudzarr.arrays.scratch import empty_output
from cloudzarr.config import config
from cloudzarr.storage import MemoryStore

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="VmFlags in /proc/self/smaps are Linux's"
)


def _vm_flags(array: np.ndarray) -> set[str]:
    """The kernel's flags of the mapping holding the middle of ``array``."""
    address = array.ctypes.data + array.nbytes // 2
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and all(c in "0123456789abcdef-" for c in head):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside and line.startswith("VmFlags:"):
                return set(line.split()[1:])
    raise AssertionError("no mapping holds the array")


def test_large_outputs_do_not_ask_for_huge_pages() -> None:
    out = empty_output((2048, 1024), np.dtype("f4"))  # 8 MiB
    assert out.shape == (2048, 1024) and out.dtype == np.float32 and out.flags.writeable
    assert out.flags.owndata and out.flags.c_contiguous
    flags = _vm_flags(out)
    assert "nh" in flags and "hg" not in flags


def test_huge_pages_setting_leaves_numpys_choice() -> None:
    with config.set({"array.huge_pages": True}):
        out = empty_output((2048, 1024), np.dtype("f4"))
    assert "nh" not in _vm_flags(out)


async def test_a_large_read_returns_such_an_output() -> None:
    store = MemoryStore()
    meta = build_array_metadata(shape=(1024, 2048), dtype="f8", chunks=(512, 512))
    arr = await AsyncArray.create(store, "a", meta)
    data = np.arange(1024 * 2048, dtype="f8").reshape(1024, 2048)
    await arr.setitem(..., data)
    got = await arr.getitem(...)
    np.testing.assert_array_equal(got, data)
    assert "nh" in _vm_flags(got)
    # Small outputs are numpy's own: no call, no flag.
    small = await arr.getitem((slice(0, 4), slice(0, 4)))
    np.testing.assert_array_equal(small, data[:4, :4])
