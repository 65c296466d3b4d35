"""Fuzzing: mutated metadata documents and chunk/shard bytes through open and read.

Seed hierarchies (v2 and v3, consolidated, a sharded array, a Blosc one, attributes) are written
by cloudzarr into memory; each example mutates one stored value (a field replaced by a hostile
value: huge or negative integers, wrong types, deep nesting, lone surrogates, giant strings; or
bytes flipped, cut, extended) and then opens every node, plainly and through the consolidated
metadata, and reads a small corner of every array. Whatever happens must be a value or an
exception from :mod:`cloudzarr.errors`; nothing may hang (each example runs under a timeout)
and memory stays bounded (chunks are limited to 16 MiB here; the test asserts the process's
peak resident set grew by less than 512 MiB).

Deterministic in CI; ``CLOUDZARR_PROPERTY_SCALE=20`` runs twenty times as many examples,
randomized, for bug hunts.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import resource
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cloudzarr.api import asynchronous as aapi
from cloudzarr.arrays import AsyncArray
from cloudzarr.config import config
from cloudzarr.errors import CloudzarrError
from cloudzarr.groups import AsyncGroup
from cloudzarr.storage import MemoryStore

_SCALE = float(os.environ.get("CLOUDZARR_PROPERTY_SCALE", "1"))
_HUNT_PHASES = (Phase.explicit, Phase.generate)

# A hang guard, not a timing assertion: an example normally takes milliseconds.
_EXAMPLE_TIMEOUT = 60.0

_METADATA_NAMES = ("zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata")


def examples(n: int) -> settings:
    """Deterministic settings running ``n`` examples (scaled and randomized for bug hunts)."""
    return settings(
        max_examples=max(1, int(n * _SCALE)),
        deadline=None,
        derandomize=_SCALE == 1,
        database=None,
        phases=_HUNT_PHASES if _SCALE != 1 else tuple(Phase),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


async def _build(zarr_format: int) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    store = MemoryStore(store_dict=data)
    root = await aapi.create_group(store, zarr_format=zarr_format, attributes={"title": "seed"})
    sub = await root.create_group("sub", attributes={"nested": {"a": [1, 2.5, None, "é"]}})
    plain = await sub.create_array(
        "plain",
        shape=(6, 5),
        chunks=(3, 2),
        dtype="int32",
        fill_value=-1,
        attributes={"units": "m"},
    )
    await plain.setitem(Ellipsis, np.arange(30, dtype="int32").reshape(6, 5))
    blosc = await root.create_array(
        "blosc",
        shape=(10,),
        chunks=(4,),
        dtype="float64",
        compressors={"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
    )
    await blosc.setitem(Ellipsis, np.linspace(0, 1, 10))
    text = await root.create_array("text", shape=(4,), chunks=(2,), dtype=str)
    await text.setitem(Ellipsis, np.array(["a", "bé", "", "ccc"], dtype=object))
    if zarr_format == 3:
        sharded = await root.create_array(
            "sharded", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="uint16"
        )
        await sharded.setitem(Ellipsis, np.arange(64, dtype="uint16").reshape(8, 8))
    await aapi.consolidate_metadata(store)
    return data


@functools.cache
def seeds() -> dict[int, dict[str, bytes]]:
    """The seed stores' contents by format (built once per session)."""
    return {fmt: asyncio.run(_build(fmt)) for fmt in (2, 3)}


# --- mutations ---------------------------------------------------------------------------------

_DEEP = "\x00deep\x00"  # replaced in the serialized bytes by deeply nested JSON

hostile_values = st.one_of(
    st.sampled_from(
        [
            2**63,
            2**64 + 1,
            -(2**63) - 1,
            10**400,
            -1,
            0,
            2**31,
            True,
            None,
            1.5,
            float("1e308"),
            "",
            "\ud800",
            "a\udfffb",
            "x" * 100_000,
            [],
            {},
            [0] * 70,
            [2**62, 2**62],
            [1] * 65,
            {"name": "sharding_indexed"},
            {"\udc00": 1},
            _DEEP,
        ]
    ),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(-5, 2**64), max_size=4),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a parsed JSON document."""
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _replace(doc: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return doc


def _deep(depth: int) -> str:
    opener, closer = ('{"a":', "}") if depth % 2 else ("[", "]")
    return opener * depth + "1" + closer * depth


@st.composite
def mutated_json(draw: Any, raw: bytes) -> bytes:
    doc = json.loads(raw)
    paths = _paths(doc)
    path = draw(st.sampled_from(paths))
    delete = draw(st.booleans()) and bool(path)
    new = draw(hostile_values)
    doc = _replace(doc, path, new, delete)
    text = json.dumps(doc, ensure_ascii=True)
    if _DEEP in json.dumps(new, ensure_ascii=False) or new == _DEEP:
        depth = draw(st.sampled_from([130, 1000, 5000, 200_000]))
        text = text.replace(json.dumps(_DEEP), _deep(depth))
    return text.encode()


@st.composite
def mutated_bytes(draw: Any, raw: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "cut", "extend", "replace", "empty"]))
    if kind == "empty" or not raw:
        return b""
    if kind == "cut":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "extend":
        return raw + draw(st.binary(min_size=1, max_size=64))
    if kind == "replace":
        return draw(st.binary(max_size=max(1, len(raw))))
    out = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(out) - 1))
        out[i] ^= draw(st.integers(1, 255))
    return bytes(out)


@st.composite
def mutated_store(draw: Any, metadata: bool) -> tuple[int, dict[str, bytes], str]:
    fmt = draw(st.sampled_from([2, 3]))
    data = dict(seeds()[fmt])
    keys = sorted(k for k in data if (k.rsplit("/", 1)[-1] in _METADATA_NAMES) == metadata)
    key = draw(st.sampled_from(keys))
    if metadata and draw(st.integers(0, 9)):
        data[key] = draw(mutated_json(data[key]))
    else:
        data[key] = draw(mutated_bytes(data[key]))
    return fmt, data, key


# --- the check -----------------------------------------------------------------------------------

_NODES = ("", "sub", "sub/plain", "blosc", "text", "sharded")


async def _read_corner(array: AsyncArray) -> None:
    corner = tuple(slice(0, 3) for _ in array.shape)
    await array.getitem(corner)


async def _exercise(fmt: int, data: dict[str, bytes]) -> list[str]:
    """Open every node plainly and through consolidated metadata, read a corner of every array;
    return the names of the exceptions that were typed cloudzarr errors."""
    outcomes: list[str] = []

    async def attempt(coro: Any) -> Any:
        try:
            return await coro
        except CloudzarrError as exc:
            outcomes.append(type(exc).__name__)
            return None

    store = MemoryStore(store_dict=data, read_only=True)
    for path in _NODES if fmt == 3 else _NODES[:-1]:
        node = await attempt(aapi.open(store, path=path, mode="r", zarr_format=fmt))
        if isinstance(node, AsyncArray):
            await attempt(_read_corner(node))
    root = await attempt(aapi.open_consolidated(store, mode="r", zarr_format=fmt))
    if isinstance(root, AsyncGroup):

        async def walk() -> None:
            async for _name, member in root.members(max_depth=None):
                if isinstance(member, AsyncArray):
                    await attempt(_read_corner(member))

        await attempt(walk())
    return outcomes


def _check(fmt: int, data: dict[str, bytes], key: str) -> None:
    async def run() -> None:
        await asyncio.wait_for(_exercise(fmt, data), _EXAMPLE_TIMEOUT)

    try:
        with config.set({"metadata.max_chunk_bytes": 16 * 2**20}):
            asyncio.run(run())
    except CloudzarrError:
        pass
    except Exception as exc:
        pytest.fail(f"mutated {key!r} (v{fmt}) raised {type(exc).__name__}: {exc!r}"[:2000])


@pytest.fixture(scope="module")
def memory_guard() -> Any:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 512 * 1024, f"peak resident set grew by {grown_kib // 1024} MiB"


@examples(150)
@given(case=mutated_store(metadata=True))
def test_mutated_metadata_documents_raise_only_typed_errors(
    memory_guard: None, case: tuple[int, dict[str, bytes], str]
) -> None:
    _check(*case)


@examples(100)
@given(case=mutated_store(metadata=False))
def test_mutated_chunk_and_shard_bytes_raise_only_typed_errors(
    memory_guard: None, case: tuple[int, dict[str, bytes], str]
) -> None:
    _check(*case)


def test_the_seeds_open_and_read_cleanly() -> None:
    # The fuzzing above means something only if unmutated stores raise nothing at all.
    for fmt, data in seeds().items():
        outcomes = asyncio.run(_exercise(fmt, dict(data)))
        assert outcomes == [], outcomes
