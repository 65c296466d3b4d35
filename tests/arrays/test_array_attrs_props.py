"""Property-based attributes: random edits through ``Array.attrs`` against a dict model.

After every edit the attributes read back (through the same array, a reopened array and
zarr-python 3.4.2 on the same directory) must equal the model, for both formats.
"""

from __future__ import annotations

import tempfile
from typing import Any

import zarr
from hypothesis import given
from hypothesis import strategies as st

from cloudzarr.arrays import Array, build_array_metadata
from cloudzarr.storage import LocalStore

from .test_array_interop_props import json_values
from .test_array_properties import examples

_keys = st.sampled_from(["a", "b", "ü", "", "long key"])


@examples(25)
@given(fmt=st.sampled_from([2, 3]), data=st.data())
def test_attribute_edits_match_a_dict(fmt: int, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        meta = build_array_metadata(shape=(2,), dtype="i2", zarr_format=fmt)
        arr = Array.create(LocalStore(tmp), "a", meta)
        model: dict[str, Any] = {}
        for _ in range(5):
            op = data.draw(st.sampled_from(["set", "del", "update", "put", "pop", "clear"]))
            attrs = arr.attrs
            key = data.draw(_keys)
            if op == "set":
                value = data.draw(json_values)
                attrs[key] = value
                model[key] = value
            elif op == "del" and key in model:
                del attrs[key]
                del model[key]
            elif op == "update":
                new = data.draw(st.dictionaries(_keys, json_values, max_size=3))
                attrs.update(new)
                model.update(new)
            elif op == "put":
                new = data.draw(st.dictionaries(_keys, json_values, max_size=3))
                attrs.put(new)
                model = dict(new)
            elif op == "pop":
                assert attrs.pop(key, "absent") == model.pop(key, "absent")
            elif op == "clear":
                attrs.clear()
                model = {}
            assert dict(attrs) == model
            assert dict(arr.attrs) == model
            assert dict(Array.open(LocalStore(tmp), "a").attrs) == model
            z = zarr.open_array(zarr.storage.LocalStore(tmp, read_only=True), path="a", mode="r")
            assert dict(z.attrs) == model
