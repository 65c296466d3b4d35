"""xarray over the adapter: ``Dataset.to_zarr`` and ``xr.open_zarr`` on cloudzarr stores.

A dataset written by xarray reads back identical through xarray, and cloudzarr's own API sees
its arrays, data and dimension names. On memory and on S3 (moto).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import cloudzarr
from cloudzarr.interop import as_zarr_store
from cloudzarr.storage import Store

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.ZarrUserWarning")


@pytest.fixture
def store(memory_or_s3_store: Store) -> Store:
    return memory_or_s3_store


def _dataset() -> xr.Dataset:
    rng = np.random.default_rng(0)
    temperature = rng.normal(280.0, 5.0, size=(6, 4, 5)).astype("float32")
    temperature[0, 0, 0] = np.nan
    return xr.Dataset(
        {
            "temperature": (("time", "lat", "lon"), temperature, {"units": "K"}),
            "station": (("lat",), np.array([3, 1, 4, 1], dtype="int16")),
        },
        coords={
            "time": pd.date_range("2026-01-01", periods=6, freq="D"),
            "lat": np.linspace(-30.0, 30.0, 4),
            "lon": np.linspace(0.0, 40.0, 5),
        },
        attrs={"title": "interop test"},
    )


def test_xarray_round_trip(store: Store) -> None:
    ds = _dataset()
    adapter = as_zarr_store(store)
    ds.chunk({"time": 2}).to_zarr(adapter, zarr_format=3, consolidated=True, mode="w")
    with xr.open_zarr(adapter, consolidated=True) as loaded:
        xr.testing.assert_identical(loaded.load(), ds)
        assert loaded["temperature"].encoding["chunks"] == (2, 4, 5)


def test_xarray_dataset_read_with_cloudzarr(store: Store) -> None:
    ds = _dataset()
    ds.to_zarr(as_zarr_store(store), zarr_format=3, consolidated=True, mode="w")

    group = cloudzarr.open_group(store, mode="r", use_consolidated=True)
    assert dict(group.attrs) == {"title": "interop test"}
    assert sorted(group.array_keys()) == ["lat", "lon", "station", "temperature", "time"]
    temperature = group["temperature"]
    assert isinstance(temperature, cloudzarr.Array)
    assert temperature.dimension_names == ("time", "lat", "lon")
    assert temperature.attrs["units"] == "K"
    np.testing.assert_array_equal(temperature[:], ds["temperature"].values)
    station = group["station"]
    assert isinstance(station, cloudzarr.Array)
    assert station.dimension_names == ("lat",)
    np.testing.assert_array_equal(station[:], [3, 1, 4, 1])
    # Time is stored as xarray encodes it: integers with CF units in the attributes.
    time = group["time"]
    assert isinstance(time, cloudzarr.Array)
    assert time.dimension_names == ("time",)
    assert "since" in time.attrs["units"]
    decoded = xr.coding.times.decode_cf_datetime(time[:], time.attrs["units"])
    np.testing.assert_array_equal(decoded, ds["time"].values)


def test_xarray_appends_along_time(store: Store) -> None:
    ds = _dataset()
    adapter = as_zarr_store(store)
    ds.isel(time=slice(0, 3)).to_zarr(adapter, zarr_format=3, mode="w")
    ds.isel(time=slice(3, 6)).to_zarr(adapter, append_dim="time")
    with xr.open_zarr(adapter, consolidated=False) as loaded:
        xr.testing.assert_identical(loaded.load(), ds)
    assert cloudzarr.open_group(store)["temperature"].shape == (6, 4, 5)


def test_dataset_written_by_cloudzarr_opens_in_xarray(store: Store) -> None:
    root = cloudzarr.create_group(store, attributes={"title": "from cloudzarr"})
    values = np.arange(12, dtype="float64").reshape(3, 4)
    root.create_array(
        "v", shape=(3, 4), dtype="float64", chunks=(2, 2), dimension_names=("y", "x")
    )[:] = values
    root.create_array("y", shape=(3,), dtype="int64", dimension_names=("y",))[:] = [10, 20, 30]
    cloudzarr.consolidate_metadata(store)

    with xr.open_zarr(as_zarr_store(store), consolidated=True) as ds:
        assert ds.attrs == {"title": "from cloudzarr"}
        assert ds["v"].dims == ("y", "x")
        np.testing.assert_array_equal(ds["v"].values, values)
        np.testing.assert_array_equal(ds["y"].values, [10, 20, 30])
