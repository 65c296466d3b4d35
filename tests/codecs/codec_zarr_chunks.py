"""Arrays written by zarr-python 3.4.2 in memory: their documents and chunk bytes (a helper
module imported by name, not a conftest)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr
from zarr.storage import MemoryStore

from cloudzarr.metadata import STRING_DTYPE, ArrayMetadataV2, ArrayMetadataV3

_DOCS = ("zarr.json", ".zarray", ".zattrs")


@dataclass
class ZarrWritten:
    metadata: ArrayMetadataV2 | ArrayMetadataV3
    chunks: dict[str, bytes]


def zarr_write(data: np.ndarray, **kwargs: Any) -> ZarrWritten:
    """Write ``data`` as one array with zarr-python; return our parsed metadata and its chunks."""
    store = MemoryStore()
    kwargs.setdefault("chunks", data.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = zarr.create_array(
            store, name="a", shape=data.shape, dtype=kwargs.pop("dtype", data.dtype), **kwargs
        )
        arr[...] = data
    items = {k[2:]: buf.to_bytes() for k, buf in store._store_dict.items() if k.startswith("a/")}
    if "zarr.json" in items:
        meta: ArrayMetadataV2 | ArrayMetadataV3 = ArrayMetadataV3.from_dict(
            json.loads(items["zarr.json"])
        )
    else:
        attrs = json.loads(items[".zattrs"]) if ".zattrs" in items else None
        meta = ArrayMetadataV2.from_dict(json.loads(items[".zarray"]), attributes=attrs)
    return ZarrWritten(meta, {k: v for k, v in items.items() if k not in _DOCS})


def zarr_read(meta: ArrayMetadataV2 | ArrayMetadataV3, chunks: dict[str, bytes]) -> np.ndarray:
    """Read an array with zarr-python from our documents and chunk bytes."""
    store = MemoryStore()
    proto = zarr.core.buffer.default_buffer_prototype()
    for name, raw in {**meta.to_documents(), **chunks}.items():
        store._store_dict[f"a/{name}"] = proto.buffer.from_bytes(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(zarr.open_array(store, path="a", mode="r")[...])


NUMERIC = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]


def sample(dtype: Any, shape: tuple[int, ...] = (6, 5)) -> np.ndarray:
    n = int(np.prod(shape))
    if dtype is str:
        words = ["", "a", "héllo", "日本語", "x" * 40, "🙂"]
        return np.array(
            [words[i % len(words)] + str(i) for i in range(n)], dtype=STRING_DTYPE
        ).reshape(shape)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return (np.arange(n) % 3 == 0).reshape(shape)
    values = np.arange(n) * 7 - n
    if dtype.kind == "u":
        values = np.abs(values)
    out = values.astype(dtype).reshape(shape)
    if dtype.kind == "c":
        out = out + 1j * out[::-1]
    return out.astype(dtype)
