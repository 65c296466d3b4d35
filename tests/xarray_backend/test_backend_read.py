"""Reading with ``engine="cloudzarr"``: datasets written by xarray + zarr-python, both formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cloudzarr.errors import InvalidMetadataError
from cloudzarr.storage.s3 import S3Store
from cloudzarr.xarray import CloudzarrBackendEntrypoint

from .conftest import ROOT, assert_same, declared_entry_point

FORMATS = [2, 3]


def sample(n: int = 6) -> xr.Dataset:
    rng = np.random.default_rng(1)
    temp = rng.random((n, 4)).astype("f4")
    temp[0, 0] = np.nan
    return xr.Dataset(
        {
            "temp": (("time", "x"), temp, {"units": "K", "long_name": "temperature"}),
            "count": (("x",), np.array([0, 1, 2, 3], dtype="i4")),
            "scaled": (
                ("time",),
                np.linspace(0, 1, n),
                {},
            ),
        },
        coords={
            "time": pd.date_range("2021-01-01", periods=n, freq="6h"),
            "x": np.arange(4) * 10.0,
            "lat": (("x",), np.array([1.5, 2.5, 3.5, 4.5])),
        },
        attrs={"title": "sample", "n": 3},
    )


def test_engine_is_the_declared_entry_point() -> None:
    assert declared_entry_point() == "cloudzarr.xarray.backend:CloudzarrBackendEntrypoint"
    engines = xr.backends.list_engines()
    assert isinstance(engines["cloudzarr"], CloudzarrBackendEntrypoint)


@pytest.mark.parametrize("fmt", FORMATS)
def test_reads_xarray_zarr_python_dataset_identically(tmp_path: Path, fmt: int) -> None:
    ds = sample()
    ds["scaled"].encoding = {"scale_factor": 0.01, "dtype": "i2", "_FillValue": -1}
    ds.to_zarr(tmp_path / "d.zarr", zarr_format=fmt, mode="w", consolidated=True)
    got = xr.open_dataset(tmp_path / "d.zarr", engine="cloudzarr")
    want = xr.open_dataset(tmp_path / "d.zarr", engine="zarr")
    assert_same(got, want)
    # CF decoding is xarray's: times are datetimes, the packed variable is unpacked and masked.
    assert got["time"].dtype.kind == "M"
    assert got["scaled"].dtype == np.float64
    assert got["scaled"].encoding["scale_factor"] == 0.01
    assert set(got.coords) == {"time", "x", "lat"}
    assert got.attrs == {"title": "sample", "n": 3}


@pytest.mark.parametrize("fmt", FORMATS)
def test_chunks_open_lazily_on_stored_chunks(tmp_path: Path, fmt: int) -> None:
    ds = sample(12).chunk({"time": 4})
    ds.to_zarr(tmp_path / "d.zarr", zarr_format=fmt, mode="w")
    got = xr.open_dataset(tmp_path / "d.zarr", engine="cloudzarr", chunks={})
    assert isinstance(got["temp"].data, da.Array)
    assert got["temp"].chunks == ((4, 4, 4), (4,))
    assert_same(got, sample(12))


def test_sharded_variables_get_one_dask_block_per_shard(tmp_path: Path) -> None:
    ds = sample(16)
    ds.to_zarr(
        tmp_path / "d.zarr",
        zarr_format=3,
        mode="w",
        encoding={"temp": {"chunks": (2, 4), "shards": (8, 4)}},
    )
    got = xr.open_dataset(tmp_path / "d.zarr", engine="cloudzarr", chunks={})
    assert got["temp"].encoding["chunks"] == (2, 4)
    assert got["temp"].encoding["shards"] == (8, 4)
    assert got["temp"].chunks == ((8, 8), (4,))
    assert_same(got, sample(16))


def test_lazy_variable_reads_only_what_is_indexed(s3_store: S3Store) -> None:
    ds = xr.Dataset({"v": (("t",), np.arange(100, dtype="i8"))})
    from cloudzarr.xarray import to_zarr

    to_zarr(ds, s3_store, encoding={"v": {"chunks": (10,)}}, mode="w")
    s3_store.requests.counts.clear()
    got = xr.open_dataset(s3_store, engine="cloudzarr", consolidated=True, zarr_format=3)
    # Consolidated metadata: one GET of the root zarr.json opens the group and all members.
    assert s3_store.requests.snapshot() == {"GetObject": 1}
    assert int(got["v"][25]) == 25
    assert s3_store.requests.snapshot() == {"GetObject": 2}


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_dimension_names_are_a_typed_error(tmp_path: Path, fmt: int) -> None:
    import cloudzarr

    cloudzarr.create_array(str(tmp_path / "d"), name="a", shape=(3,), dtype="i4", zarr_format=fmt)
    with pytest.raises(InvalidMetadataError, match="'a'"):
        xr.open_dataset(tmp_path / "d", engine="cloudzarr")


@pytest.mark.parametrize("fmt", FORMATS)
def test_reads_string_coordinates_written_by_zarr_python(tmp_path: Path, fmt: int) -> None:
    # xarray + zarr-python store str coordinates fixed-width: <U4 (v2), fixed_length_utf32 (v3).
    ds = sample().assign_coords(name=("x", ["a", "bb", "ccc", "dddd"]))
    ds.to_zarr(tmp_path / "d.zarr", zarr_format=fmt, mode="w")
    assert_same(xr.open_dataset(tmp_path / "d.zarr", engine="cloudzarr"), ds)


@pytest.mark.parametrize("fmt", FORMATS)
def test_open_datatree_on_nested_groups(tmp_path: Path, fmt: int) -> None:
    tree = xr.DataTree.from_dict(
        {
            "/": xr.Dataset(attrs={"root": 1}),
            "/a": sample(4),
            "/a/b": xr.Dataset({"z": (("y",), np.arange(3.0))}),
            "/c": xr.Dataset({"w": (("q",), np.array([1, 2], dtype="u1"))}),
        }
    )
    tree.to_zarr(tmp_path / "t.zarr", zarr_format=fmt, mode="w", consolidated=True)
    got = xr.open_datatree(tmp_path / "t.zarr", engine="cloudzarr")
    want = xr.open_datatree(tmp_path / "t.zarr", engine="zarr")
    xr.testing.assert_identical(got.load(), want.load())
    assert sorted(got.groups) == ["/", "/a", "/a/b", "/c"]


def test_works_without_zarr_python(tmp_path: Path) -> None:
    # A child process in which importing zarr fails, as when the zarr extra is not installed.
    script = f"""
import sys
sys.modules["zarr"] = None
import numpy as np, xarray as xr
from cloudzarr.xarray import to_zarr
ds = xr.Dataset({{"v": (("t",), np.arange(5.0))}}, coords={{"t": np.arange(5)}})
to_zarr(ds, {str(tmp_path / "d")!r})
got = xr.open_dataset({str(tmp_path / "d")!r}, engine="cloudzarr", chunks={{}})
xr.testing.assert_identical(got.load(), ds)
tree = xr.open_datatree({str(tmp_path / "d")!r}, engine="cloudzarr")
print("OK", "zarr" in sys.modules and sys.modules["zarr"] is not None)
"""
    site = json.dumps(sys.path)
    prelude = f"import sys; sys.path[:0] = {site}\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + script], capture_output=True, text=True, cwd=ROOT,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["OK", "False"]
