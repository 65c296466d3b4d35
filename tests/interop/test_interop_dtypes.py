"""Every data type zarr-python 3.4.2 stores, in both formats and both directions.

zarr-python writes (with its own fill value), cloudzarr reads the same values and fill value;
cloudzarr writes, zarr-python reads them; and both write the same ``data_type`` / ``dtype`` and
``fill_value`` JSON. Runs on memory, local disk and S3 (moto) through the zarr adapter.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.core.dtype import VariableLengthBytes

import cloudzarr
from cloudzarr.interop import as_zarr_store
from cloudzarr.storage import Store
from cloudzarr.sync import sync

from .conftest import make_store


@pytest.fixture(params=["local", "s3"])
def cloudzarr_store(request: pytest.FixtureRequest, tmp_path: Any) -> Store:
    """Local disk, then S3 (moto); memory adds nothing the other two do not cover."""
    return make_store(request, request.param, tmp_path)


pytestmark = [
    pytest.mark.filterwarnings("ignore::zarr.errors.ZarrUserWarning"),
    pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning"),
    pytest.mark.filterwarnings("ignore:The 'generic' unit:DeprecationWarning"),
]

_NAT = -(2**63)
_STRUCT = np.dtype([("a", "<i4"), ("b", ">f8"), ("c", "S2")])

#: id -> (dtype given to both libraries, 5 values, fill value or None for the default).
CASES: dict[str, tuple[Any, np.ndarray, Any]] = {
    "M8[ns]-NaT": (
        "<M8[ns]",
        np.array(["2020-01-01", "NaT", "1999-12-31T23:59:59.5", "NaT", "2000"], dtype="M8[ns]"),
        np.datetime64("NaT", "ns"),
    ),
    ">M8[s]": (">M8[s]", np.array(["2020", "NaT", "1970", "NaT", "2000"], dtype=">M8[s]"), 5),
    "M8[10s]": ("M8[10s]", np.array([0, 10, 20, _NAT, 40]).view("M8[10s]"), None),
    "M8[D]": ("M8[D]", np.array(["2020-02-29", "NaT", "1900", "NaT", "2100"], dtype="M8[D]"), 0),
    "M8": ("M8", np.array([0, 1, 2, _NAT, 4]).view("M8"), None),
    "m8[ms]-NaT": (
        "<m8[ms]",
        np.array([1, -2, 3, _NAT, 5]).view("m8[ms]"),
        np.timedelta64("NaT", "ms"),
    ),
    "m8[h]": ("m8[h]", np.array([1, -2, 3, _NAT, 5]).view("m8[h]"), None),
    "m8": ("m8", np.array([1, -2, 3, _NAT, 5]).view("m8"), 7),
    "<U4": ("<U4", np.array(["ab", "", "héll", "x", "zzzz"], dtype="<U4"), "q"),
    ">U3": (">U3", np.array(["ab", "", "hé", "x", "zzz"], dtype=">U3"), None),
    "S3": ("S3", np.array([b"ab", b"", b"x\x00y", b"\xff", b"zzz"], dtype="S3"), b"ab"),
    "V3": (
        "V3",
        np.array([b"ab\x00", b"\x00\x00\x00", b"x\x00y", b"\xff\x01\x02", b"zzz"], "V3"),
        None,
    ),
    "struct": (
        _STRUCT,
        np.array(
            [(1, 2.5, b"x"), (2, -1, b""), (3, 0, b"yy"), (4, 1e9, b"a"), (5, 5, b"b")], _STRUCT
        ),
        (7, 1.5, b"z"),
    ),
    "bool": ("bool", np.array([True, False, True, False, True]), True),
    ">i2": (">i2", np.array([1, -2, 3, 4, 5], dtype=">i2"), -9),
    "c8": ("c8", np.array([1 + 2j, 0, -1j, 3, 4], dtype="c8"), 1 - 1j),
    "string": (str, np.array(["a", "", "ccc", "dd", "é"], dtype=np.dtypes.StringDType()), "fill"),
    "bytes": (
        "variable_length_bytes",
        np.array([b"ab", b"", b"x\x00", b"\x00z\x00", b"\xff"], dtype=object),
        b"f",
    ),
}


def _same(got: np.ndarray, expected: np.ndarray) -> None:
    """Same values; Zarr v3 arrays hold native byte order, so compare after converting."""
    assert got.shape == expected.shape
    if got.dtype.kind in "TO" or expected.dtype.kind in "TO":
        assert got.tolist() == expected.tolist()
        return
    assert got.dtype.names == expected.dtype.names
    assert got.dtype.itemsize == expected.dtype.itemsize
    assert got.astype(expected.dtype).tobytes() == expected.tobytes()


def _fill_bytes(value: Any, dtype: np.dtype[Any]) -> bytes | Any:
    if dtype.kind in "TO":
        return value
    return np.asarray(value, dtype=dtype).tobytes()


def _doc(store: Store, zarr_format: int) -> dict[str, Any]:
    key = "a/zarr.json" if zarr_format == 3 else "a/.zarray"
    raw = sync(store.get(key))
    assert raw is not None
    doc = json.loads(bytes(raw))
    return {
        k: doc[k] for k in ("data_type", "dtype", "fill_value", "codecs", "filters") if k in doc
    }


def _kwargs(case: str, zarr_format: int, *, for_zarr: bool = False) -> dict[str, Any]:
    dtype, _, fill = CASES[case]
    if for_zarr and dtype == "variable_length_bytes":
        dtype = VariableLengthBytes()  # zarr-python takes no name for it
    kwargs: dict[str, Any] = {"shape": (7,), "chunks": (3,), "dtype": dtype}
    kwargs["zarr_format"] = zarr_format
    if fill is not None:
        kwargs["fill_value"] = fill
    return kwargs


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_zarr_writes_cloudzarr_reads(cloudzarr_store: Store, case: str, zarr_format: int) -> None:
    data = CASES[case][1]
    written = zarr.create_array(
        as_zarr_store(cloudzarr_store), name="a", **_kwargs(case, zarr_format, for_zarr=True)
    )
    written[:5] = data
    read = cloudzarr.open_array(cloudzarr_store, path="a")
    expected = written[:]
    _same(read[:], expected)
    _same(read[1:6:2], expected[1:6:2])
    assert read.dtype.kind == written.dtype.kind
    assert _fill_bytes(read.fill_value, read.dtype) == _fill_bytes(written.fill_value, read.dtype)


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_cloudzarr_writes_zarr_reads(cloudzarr_store: Store, case: str, zarr_format: int) -> None:
    data = CASES[case][1]
    written = cloudzarr.create_array(cloudzarr_store, name="a", **_kwargs(case, zarr_format))
    written[:5] = data
    written[6] = data[0]
    read = zarr.open_array(as_zarr_store(cloudzarr_store), path="a", mode="r")
    expected = written[:]
    _same(read[:], expected)
    assert _fill_bytes(read.fill_value, written.dtype) == _fill_bytes(
        written.fill_value, written.dtype
    )
    # The unwritten element is the fill value in both.
    _same(np.asarray(read[5:6]), expected[5:6])


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_same_metadata_json_as_zarr(case: str, zarr_format: int) -> None:
    ours = cloudzarr.storage.MemoryStore()
    theirs = cloudzarr.storage.MemoryStore()
    cloudzarr.create_array(ours, name="a", **_kwargs(case, zarr_format))
    zarr.create_array(as_zarr_store(theirs), name="a", **_kwargs(case, zarr_format, for_zarr=True))
    assert _doc(ours, zarr_format) == _doc(theirs, zarr_format)
