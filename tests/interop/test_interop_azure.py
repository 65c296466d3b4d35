"""zarr-python reads sharded arrays on Azure Blob (Azurite) through the adapter.

Azure has no suffix ranges, and zarr-python's sharding codec reads a shard's index with one.
Over adlfs, zarr-python 3.4.2 fails there ("Content-Range header is missing or malformed");
through the adapter the AzureStore turns the suffix into a size lookup plus a normal range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import zarr

from cloudzarr.interop import as_zarr_store

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.ZarrUserWarning")


def test_sharded_partial_read_on_azure(azure_store: Any) -> None:
    adapter = as_zarr_store(azure_store)
    data = np.arange(32 * 32, dtype="uint16").reshape(32, 32)
    arr = zarr.create_array(adapter, shape=(32, 32), chunks=(4, 4), shards=(16, 16), dtype="u2")
    arr[:] = data
    azure_store.requests.reset()
    assert zarr.open_array(adapter, mode="r", zarr_format=3)[5, 6] == data[5, 6]
    # zarr.json; the shard's size, then its index as a normal range; one inner chunk.
    assert azure_store.requests.snapshot() == {"GetBlob": 3, "GetBlobProperties": 1}
    np.testing.assert_array_equal(zarr.open_array(adapter, mode="r")[:], data)
