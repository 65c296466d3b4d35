from __future__ import annotations

import json
import math

import pytest

from cloudzarr.errors import InvalidMetadataError
from cloudzarr.metadata import dump_document, load_document
from cloudzarr.metadata.frozen import deep_freeze


def test_load_document_parses_object() -> None:
    assert load_document(b'{"a": [1, 2], "b": null}', "x/zarr.json") == {"a": [1, 2], "b": None}


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b'{"a": 1', b""])
def test_malformed_json_names_the_key(raw: bytes) -> None:
    with pytest.raises(InvalidMetadataError, match=r"group/arr/zarr\.json: malformed JSON"):
        load_document(raw, "group/arr/zarr.json")


@pytest.mark.parametrize("raw", [b"[1, 2]", b"3", b'"s"', b"null"])
def test_non_object_document_names_the_key(raw: bytes) -> None:
    with pytest.raises(InvalidMetadataError, match=r"a/\.zarray: .*JSON object"):
        load_document(raw, "a/.zarray")


def test_dump_document_is_indented_json_and_thaws_frozen_values() -> None:
    doc = deep_freeze({"shape": [2, 3], "attributes": {"x": ["é"]}})
    out = dump_document(doc)
    assert out.startswith(b'{\n  "shape": [\n    2,')
    assert json.loads(out) == {"shape": [2, 3], "attributes": {"x": ["é"]}}


def test_dump_document_refuses_nan_instead_of_writing_invalid_json() -> None:
    with pytest.raises(InvalidMetadataError, match="JSON"):
        dump_document({"fill_value": math.nan})
