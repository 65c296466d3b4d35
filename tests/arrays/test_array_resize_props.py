"""Property-based ``resize``: random writes and resizes (grow and shrink) against numpy and
zarr-python 3.4.2.

cloudzarr resizes like numpy: elements outside the new shape are gone, and growing again shows
the fill value there. zarr-python 3.4.2 deletes only the chunks wholly outside the new grid, so
values cut off inside a kept edge chunk come back when it grows again (``[0 1 2 3 4]`` shrunk
to 3 and grown to 6 reads ``[0 1 2 3 f f]``). The comparison with zarr-python therefore skips
elements grown back since their last write; everything else must agree, and zarr-python must
read what cloudzarr resized exactly as cloudzarr does.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import zarr
from hypothesis import given
from hypothesis import strategies as st

from cloudzarr.arrays import Array, build_array_metadata
from cloudzarr.storage import LocalStore

from .test_array_interop_props import zarr_python_selection
from .test_array_properties import (
    array_specs,
    assert_same,
    examples,
    expected_chunk_keys,
    expected_fill,
    numpy_dtype,
    stored_chunk_keys,
    values,
)


def resized(model: np.ndarray, shape: tuple[int, ...], fill: Any) -> np.ndarray:
    """numpy's view of a resize: the overlap kept, the rest the fill value."""
    out = np.full(shape, fill, dtype=model.dtype)
    overlap = tuple(slice(0, min(a, b)) for a, b in zip(model.shape, shape, strict=True))
    out[overlap] = model[overlap]
    return out


@examples(40)
@given(spec=array_specs(max_ndim=3), data=st.data())
def test_resize_matches_numpy_and_zarr_python(spec: dict[str, Any], data: st.DataObject) -> None:
    name = "str" if spec["dtype"] is str else spec["dtype"]
    fill = expected_fill(spec)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        ours = Array.create(LocalStore(tmp), "ours", build_array_metadata(**spec))
        theirs = zarr.create_array(
            zarr.storage.LocalStore(tmp), name="theirs", **{"order": None, **spec}
        )
        model = np.full(spec["shape"], fill, dtype=numpy_dtype(name))
        # Elements zarr-python may show stale values in: grown back since their last write.
        stale = np.zeros(spec["shape"], dtype=bool)
        for _ in range(4):
            if data.draw(st.booleans(), label="resize"):
                shape = tuple(
                    data.draw(st.integers(0, 2 * n + 3), label="dim") for n in spec["shape"]
                )
                ours.resize(shape)
                theirs.resize(shape)
                model = resized(model, shape, fill)
                stale = resized(stale, shape, True)
            else:
                sel = zarr_python_selection(
                    tuple(
                        slice(data.draw(st.integers(0, n)), data.draw(st.integers(0, n)))
                        for n in model.shape
                    )
                )
                value = data.draw(values(name, np.shape(model[sel])), label="value")
                if 0 in value.shape:
                    continue  # zarr-python 3.4.2 fails on empty selections
                ours[sel] = value
                theirs[sel] = value
                model[sel] = value
                stale[sel] = False
            assert ours.shape == theirs.shape == model.shape
            assert_same(ours[...], model)
            got = np.asarray(theirs[...], dtype=model.dtype)
            assert_same(got[~stale], model[~stale])
        assert_same(Array.open(LocalStore(tmp), "ours")[...], model)
        reread = zarr.open_array(zarr.storage.LocalStore(tmp, read_only=True), path="ours")
        assert_same(np.asarray(reread[...], dtype=model.dtype), model)
        # Chunks outside the grid are gone and cleared edge chunks left all fill deleted.
        assert stored_chunk_keys(LocalStore(tmp), "ours") == expected_chunk_keys(ours, model)
