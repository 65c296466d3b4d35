"""Random reads and writes on arrays (plain and sharded, both formats) against a numpy model."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudzarr.arrays import Array, build_array_metadata
from cloudzarr.storage import MemoryStore


@st.composite
def _selection(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[Any, ...]:
    sel: list[Any] = []
    for n in shape:
        if draw(st.integers(0, 3)) == 0:
            sel.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n - 2, n + 2)
            step = st.none() | st.sampled_from([1, 2, 3, -1, -2])
            sel.append(slice(draw(bound), draw(bound), draw(step)))
    return tuple(sel)


@st.composite
def _scenario(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    sharded = draw(st.booleans())
    fmt = 3 if sharded else draw(st.sampled_from([2, 3]))
    shards = tuple(c * draw(st.integers(1, 3)) for c in chunks) if sharded else None
    writes = draw(st.lists(_selection(shape), min_size=1, max_size=4))
    reads = draw(st.lists(_selection(shape), min_size=1, max_size=3))
    return {"shape": shape, "chunks": chunks, "shards": shards, "fmt": fmt, "writes": writes,
            "reads": reads}  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(_scenario())
def test_reads_and_writes_match_numpy(scenario: dict[str, Any]) -> None:
    shape = scenario["shape"]
    store = MemoryStore()
    meta = build_array_metadata(
        shape=shape,
        dtype="int16",
        chunks=scenario["chunks"],
        shards=scenario["shards"],
        fill_value=-7,
        zarr_format=scenario["fmt"],
    )
    arr = Array.create(store, "a", meta)
    model = np.full(shape, -7, dtype=np.int16)
    for i, sel in enumerate(scenario["writes"]):
        target_shape = model[sel].shape
        value = (np.arange(int(np.prod(target_shape)), dtype=np.int16) + i * 10).reshape(
            target_shape
        )
        arr[sel] = value
        model[sel] = value
    for sel in scenario["reads"]:
        np.testing.assert_array_equal(arr[sel], model[sel])
    np.testing.assert_array_equal(arr[...], model)
    # Exactly the chunks holding something other than the fill value are stored.
    grid = meta.chunks
    expected_keys = set()
    for coords in np.ndindex(*(-(-n // c) for n, c in zip(shape, grid, strict=True))):
        region = tuple(slice(k * c, (k + 1) * c) for k, c in zip(coords, grid, strict=True))
        if (model[region] != -7).any():
            expected_keys.add("a/" + meta.chunk_key(coords))
    stored = {k for k in store._data if k not in ("a/zarr.json", "a/.zarray")}
    assert stored == expected_keys
    assert Array.open(store, "a").nshards_initialized == len(expected_keys)
