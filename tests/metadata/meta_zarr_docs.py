"""Documents written by zarr-python 3.4.2, generated in memory (a helper module, not a conftest)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import zarr
from zarr.storage import MemoryStore


def zarr_documents(name: str = "a", **kwargs: Any) -> dict[str, dict[str, Any]]:
    """Create an array with zarr-python in memory; return its metadata documents by name."""
    store = MemoryStore()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.create_array(store, name=name, **kwargs)
    prefix = f"{name}/"
    return {
        key[len(prefix) :]: json.loads(buf.to_bytes())
        for key, buf in store._store_dict.items()
        if key.startswith(prefix) and key.rsplit("/", 1)[-1] in ("zarr.json", ".zarray", ".zattrs")
    }
