"""The store suite, part 1: reads, byte ranges, writes, deletes. Runs on every store.

Every test takes ``any_store`` (a fresh, empty, writable store of each backend in turn, see
``tests/conftest.py``), so a new backend joins by adding its fixture.
"""

from __future__ import annotations

import os

import pytest

from cloudzarr.errors import KeyNotFoundError
from cloudzarr.storage import (
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from cloudzarr.storage.byte_range import ByteRequest

VALUE = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable


# --- get -----------------------------------------------------------------------------------


async def test_get_whole_value(any_store: Store) -> None:
    await any_store.set("a/b/c", VALUE)
    assert await any_store.get("a/b/c") == VALUE


async def test_get_missing_is_none(any_store: Store) -> None:
    assert await any_store.get("missing") is None
    assert await any_store.get("missing/deeper/key") is None
    assert await any_store.get("missing", RangeByteRequest(0, 4)) is None
    assert await any_store.get("missing", SuffixByteRequest(4)) is None


async def test_get_of_a_prefix_is_none(any_store: Store) -> None:
    # "a" holds no value of its own; only keys below it do.
    await any_store.set("a/b", b"x")
    assert await any_store.get("a") is None


async def test_get_below_a_value_is_none(any_store: Store) -> None:
    await any_store.set("v", b"x")
    assert await any_store.get("v/w") is None
    assert not await any_store.exists("v/w")


@pytest.mark.parametrize(
    ("byte_range", "expected"),
    [
        (RangeByteRequest(0, 1024), VALUE),
        (RangeByteRequest(10, 20), VALUE[10:20]),
        (RangeByteRequest(0, 1), VALUE[:1]),
        (RangeByteRequest(1000, 2000), VALUE[1000:]),  # reaches past the end
        (RangeByteRequest(1023, 1024), VALUE[1023:]),
        (RangeByteRequest(1024, 2000), b""),  # starts at the end
        (RangeByteRequest(5000, 6000), b""),  # starts past the end
        (RangeByteRequest(7, 7), b""),  # empty range
        (OffsetByteRequest(0), VALUE),
        (OffsetByteRequest(1000), VALUE[1000:]),
        (OffsetByteRequest(1024), b""),
        (OffsetByteRequest(5000), b""),
        (SuffixByteRequest(10), VALUE[-10:]),
        (SuffixByteRequest(1024), VALUE),
        (SuffixByteRequest(5000), VALUE),  # longer than the value: all of it
        (SuffixByteRequest(0), b""),  # zero bytes, on every store alike
    ],
    ids=repr,
)
async def test_byte_ranges(any_store: Store, byte_range: ByteRequest, expected: bytes) -> None:
    await any_store.set("k", VALUE)
    assert await any_store.get("k", byte_range) == expected


@pytest.mark.parametrize(
    "byte_range",
    [RangeByteRequest(0, 10), OffsetByteRequest(0), SuffixByteRequest(10), SuffixByteRequest(0)],
    ids=repr,
)
async def test_byte_ranges_of_empty_value(any_store: Store, byte_range: ByteRequest) -> None:
    await any_store.set("empty", b"")
    assert await any_store.get("empty", byte_range) == b""


async def test_get_buffer_reads_what_get_reads(any_store: Store) -> None:
    # The data path's zero-copy read: bytes-like (a memoryview on obstore's backends), equal
    # to get's value for whole values, every kind of range, empty values and missing keys.
    await any_store.set("k", VALUE)
    await any_store.set("empty", b"")
    cases: list[tuple[str, ByteRequest | None]] = [
        ("k", None),
        ("k", RangeByteRequest(10, 20)),
        ("k", RangeByteRequest(1000, 2000)),
        ("k", RangeByteRequest(5000, 6000)),
        ("k", OffsetByteRequest(1000)),
        ("k", SuffixByteRequest(10)),
        ("empty", None),
        ("empty", RangeByteRequest(0, 10)),
        ("missing", None),
        ("missing", RangeByteRequest(0, 1)),
    ]
    for key, byte_range in cases:
        expected = await any_store.get(key, byte_range)
        got = await any_store.get_buffer(key, byte_range)
        if expected is None:
            assert got is None, (key, byte_range)
        else:
            assert isinstance(got, bytes | memoryview), (key, byte_range)
            assert bytes(got) == expected, (key, byte_range)
    before = any_store.requests.total
    await any_store.get_buffer("k")
    assert any_store.requests.total - before == 1


async def test_get_partial_values(any_store: Store) -> None:
    await any_store.set("x", VALUE)
    await any_store.set("y/z", b"hello world")
    got = await any_store.get_partial_values(
        [
            ("x", RangeByteRequest(2, 6)),
            ("missing", None),
            ("y/z", None),
            ("x", SuffixByteRequest(3)),
            ("y/z", OffsetByteRequest(6)),
            ("missing", RangeByteRequest(0, 1)),
            ("x", RangeByteRequest(2000, 3000)),
        ]
    )
    assert got == [VALUE[2:6], None, b"hello world", VALUE[-3:], b"world", None, b""]


async def test_get_partial_values_of_nothing(any_store: Store) -> None:
    assert await any_store.get_partial_values([]) == []


# --- set -----------------------------------------------------------------------------------


async def test_set_overwrites(any_store: Store) -> None:
    await any_store.set("k", b"first value")
    await any_store.set("k", b"2nd")
    assert await any_store.get("k") == b"2nd"
    assert await any_store.getsize("k") == 3
    assert [k async for k in any_store.list()] == ["k"]


async def test_set_accepts_bytes_like(any_store: Store) -> None:
    await any_store.set("ba", bytearray(b"bytearray"))
    await any_store.set("mv", memoryview(b"xxmemoryview")[2:])
    assert await any_store.get("ba") == b"bytearray"
    assert await any_store.get("mv") == b"memoryview"


async def test_set_does_not_keep_a_reference_to_a_mutable_value(any_store: Store) -> None:
    value = bytearray(b"before")
    await any_store.set("k", value)
    value[:] = b"AFTER!"
    assert await any_store.get("k") == b"before"


async def test_empty_value(any_store: Store) -> None:
    await any_store.set("zero", b"")
    assert await any_store.get("zero") == b""  # an empty value, not a missing one
    assert await any_store.exists("zero")
    assert await any_store.getsize("zero") == 0
    assert [k async for k in any_store.list()] == ["zero"]


async def test_value_of_a_few_megabytes(any_store: Store) -> None:
    big = os.urandom(3 * 1024 * 1024 + 17)
    await any_store.set("big/value", big)
    assert await any_store.getsize("big/value") == len(big)
    assert await any_store.get("big/value") == big
    mid = len(big) // 2
    middle = await any_store.get("big/value", RangeByteRequest(mid, mid + 100))
    assert middle == big[mid : mid + 100]
    assert await any_store.get("big/value", SuffixByteRequest(5)) == big[-5:]


async def test_set_many(any_store: Store) -> None:
    items = {f"g/{i}": str(i).encode() for i in range(20)}
    await any_store.set_many(items)
    for key, value in items.items():
        assert await any_store.get(key) == value


async def test_deep_key(any_store: Store) -> None:
    key = "/".join(f"level{i}" for i in range(12))
    await any_store.set(key, b"deep")
    assert await any_store.get(key) == b"deep"
    assert [k async for k in any_store.list()] == [key]


async def test_unusual_but_valid_key_names(any_store: Store) -> None:
    keys = ["zarr.json", ".zattrs", "a b/c d", "..dots", "dots..", "ünï/cödé", "c/0.1.2", "a-b_c~d"]
    for i, key in enumerate(keys):
        await any_store.set(key, str(i).encode())
    for i, key in enumerate(keys):
        assert await any_store.get(key) == str(i).encode()
    assert sorted([k async for k in any_store.list()]) == sorted(keys)


# --- exists / getsize ------------------------------------------------------------------------


async def test_exists(any_store: Store) -> None:
    assert not await any_store.exists("a/b")
    await any_store.set("a/b", b"1")
    assert await any_store.exists("a/b")
    assert not await any_store.exists("a")  # a prefix is not a key
    assert not await any_store.exists("a/b/c")
    assert not await any_store.exists("a/bb")


async def test_getsize(any_store: Store) -> None:
    await any_store.set("s", VALUE)
    assert await any_store.getsize("s") == len(VALUE)


async def test_getsize_missing_raises(any_store: Store) -> None:
    with pytest.raises(KeyNotFoundError, match="missing"):
        await any_store.getsize("missing")
    await any_store.set("dir/key", b"x")
    with pytest.raises(KeyNotFoundError, match="'dir'"):
        await any_store.getsize("dir")


# --- delete --------------------------------------------------------------------------------


async def test_delete(any_store: Store) -> None:
    await any_store.set("a/b", b"1")
    await any_store.set("a/c", b"2")
    await any_store.delete("a/b")
    assert await any_store.get("a/b") is None
    assert not await any_store.exists("a/b")
    assert await any_store.get("a/c") == b"2"


async def test_delete_missing_is_fine(any_store: Store) -> None:
    await any_store.delete("never/was")
    await any_store.set("k", b"1")
    await any_store.delete("k")
    await any_store.delete("k")
    assert await any_store.is_empty()


async def test_delete_of_a_prefix_deletes_nothing(any_store: Store) -> None:
    await any_store.set("a/b", b"1")
    await any_store.delete("a")
    assert await any_store.get("a/b") == b"1"


async def test_delete_last_key_leaves_no_empty_name(any_store: Store) -> None:
    await any_store.set("x/y/z", b"1")
    await any_store.set("w", b"2")
    await any_store.delete("x/y/z")
    assert [n async for n in any_store.list_dir("")] == ["w"]
    assert [n async for n in any_store.list_dir("x")] == []


# --- request counting ------------------------------------------------------------------------


async def test_one_request_per_single_key_operation(any_store: Store) -> None:
    """Every single-key operation costs exactly one backend request, on every store.

    Memory and local stores count it under the operation's name; cloud stores count the HTTP
    request they really sent (their own tests check which one).
    """
    per_operation = any_store.counts_requests_per_operation
    steps = [
        ("set", lambda: any_store.set("k", b"v")),
        ("get", lambda: any_store.get("k")),
        ("get", lambda: any_store.get("k", RangeByteRequest(0, 1))),
        ("exists", lambda: any_store.exists("k")),
        ("getsize", lambda: any_store.getsize("k")),
        ("set_if_not_exists", lambda: any_store.set_if_not_exists("k", b"w")),
        ("delete", lambda: any_store.delete("k")),
    ]
    for name, step in steps:
        before = any_store.requests.snapshot()
        await step()
        after = any_store.requests.snapshot()
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        delta = {k: v for k, v in delta.items() if v}
        assert sum(delta.values()) == 1, f"{name} sent {delta}"
        if per_operation:
            assert delta == {name: 1}
