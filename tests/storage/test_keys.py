"""Units under every store: key validation, byte requests, the error hierarchy, the limiter."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cloudzarr.errors as errors_module
from cloudzarr.errors import (
    CloudzarrError,
    InvalidArgumentError,
    InvalidKeyError,
    KeyNotFoundError,
    NodeNotFoundError,
    ReadOnlyError,
    StoreError,
)
from cloudzarr.storage.byte_range import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
    resolve_range,
    slice_bytes,
)
from cloudzarr.storage.keys import join_key, normalize_prefix, validate_key
from cloudzarr.storage.limiter import Limiter, configured_concurrency

# --- keys ----------------------------------------------------------------------------------

GOOD_KEYS = [
    "a",
    "zarr.json",
    ".zattrs",
    "a/b/c",
    "group/array/c/0/0",
    "..a",
    "a..",
    "...",
    "a.b/c.d",
    "with space/ünïcödé",
    "c/0.1.2",
]


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_valid_keys_pass_unchanged(key: str) -> None:
    assert validate_key(key) is key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("..", "'..'"),
        ("../a", "'..'"),
        ("a/../b", "'..'"),
        ("a/..", "'..'"),
        (".", "'.'"),
        ("a/./b", "'.'"),
        ("/a", "absolute"),
        ("/", "absolute"),
        ("a//b", "empty path segment"),
        ("a/", "empty path segment"),
        ("a\\b", "forbidden character"),
        ("a\x00b", "forbidden character"),
    ],
)
def test_invalid_keys_are_refused_naming_the_key(key: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError, match=reason) as info:
        validate_key(key)
    if key:
        assert repr(key) in str(info.value)


@pytest.mark.parametrize("key", [None, b"a/b", 3, ["a"]])
def test_non_string_keys_are_refused(key: object) -> None:
    with pytest.raises(InvalidKeyError, match="must be a str"):
        validate_key(key)  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError, match="must be a str"):
        normalize_prefix(key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prefix", "normalized"),
    [("", ""), ("a", "a"), ("a/", "a"), ("a/b", "a/b"), ("a/b/", "a/b"), ("..a/", "..a")],
)
def test_normalize_prefix(prefix: str, normalized: str) -> None:
    assert normalize_prefix(prefix) == normalized


@pytest.mark.parametrize("prefix", ["/", "//", "/a", "/a/", "a//", "a//b", "..", "../", "a\\"])
def test_invalid_prefixes_are_refused(prefix: str) -> None:
    # "/" in particular must not mean the whole store: delete_dir("/") would wipe it.
    with pytest.raises(InvalidKeyError) as info:
        normalize_prefix(prefix)
    assert repr(prefix) in str(info.value)


@pytest.mark.parametrize(
    ("prefix", "key", "joined"),
    [("", "a", "a"), ("p", "a", "p/a"), ("p/q", "a/b", "p/q/a/b"), ("p", "", "p"), ("", "", "")],
)
def test_join_key(prefix: str, key: str, joined: str) -> None:
    assert join_key(prefix, key) == joined


segment = st.text(alphabet=st.characters(blacklist_characters="/\\\x00"), min_size=1).filter(
    lambda s: s not in (".", "..")
)


@given(st.lists(segment, min_size=1, max_size=5))
def test_any_join_of_valid_segments_is_a_valid_key(segments: list[str]) -> None:
    key = "/".join(segments)
    assert validate_key(key) == key
    assert normalize_prefix(key + "/") == key


# --- byte requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: RangeByteRequest(-1, 3),
        lambda: RangeByteRequest(5, 4),
        lambda: OffsetByteRequest(-1),
        lambda: SuffixByteRequest(-2),
    ],
)
def test_invalid_byte_requests_are_refused(make: object) -> None:
    with pytest.raises(StoreError, match="invalid byte"):
        make()  # type: ignore[operator]


byte_requests = st.one_of(
    st.builds(
        lambda a, b: RangeByteRequest(min(a, b), max(a, b)),
        st.integers(0, 300),
        st.integers(0, 300),
    ),
    st.builds(OffsetByteRequest, st.integers(0, 300)),
    st.builds(SuffixByteRequest, st.integers(0, 300)),
)


@given(st.binary(max_size=200), byte_requests)
def test_slice_and_resolve_agree(data: bytes, request: ByteRequest) -> None:
    # Memory stores slice; file and cloud stores resolve to absolute offsets. Same bytes.
    start, end = resolve_range(request, len(data))
    assert 0 <= start <= end <= len(data)
    assert slice_bytes(data, request) == data[start:end]


def test_byte_request_semantics() -> None:
    data = b"0123456789"
    assert slice_bytes(data, None) == data
    assert slice_bytes(data, RangeByteRequest(2, 5)) == b"234"
    assert slice_bytes(data, RangeByteRequest(8, 50)) == b"89"
    assert slice_bytes(data, OffsetByteRequest(7)) == b"789"
    assert slice_bytes(data, SuffixByteRequest(3)) == b"789"
    assert slice_bytes(data, SuffixByteRequest(30)) == data
    assert slice_bytes(data, SuffixByteRequest(0)) == b""
    assert resolve_range(SuffixByteRequest(0), 10) == (10, 10)


# --- errors --------------------------------------------------------------------------------


def test_every_exported_error_is_a_cloudzarr_error() -> None:
    for name in errors_module.__all__:
        cls = getattr(errors_module, name)
        assert issubclass(cls, CloudzarrError), name


def test_errors_keep_builtin_meanings() -> None:
    # Code written against zarr-python's habits keeps catching what it expects.
    assert issubclass(InvalidKeyError, ValueError)
    assert issubclass(ReadOnlyError, PermissionError)
    assert issubclass(KeyNotFoundError, FileNotFoundError)
    assert issubclass(NodeNotFoundError, KeyError)
    assert issubclass(errors_module.NodeExistsError, FileExistsError)
    assert issubclass(errors_module.StoreTimeoutError, TimeoutError)
    assert issubclass(errors_module.UnsupportedError, NotImplementedError)
    assert issubclass(errors_module.InvalidStoreURLError, ValueError)


def test_node_not_found_message_is_not_quoted() -> None:
    assert str(NodeNotFoundError("no group at 'a/b'")) == "no group at 'a/b'"
    assert str(KeyError("no group at 'a/b'")) == "\"no group at 'a/b'\""


# --- limiter -------------------------------------------------------------------------------


def test_configured_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CZ_TEST_CONC", raising=False)
    assert configured_concurrency(11, env="CZ_TEST_CONC") == 11
    monkeypatch.setenv("CZ_TEST_CONC", "  ")
    assert configured_concurrency(11, env="CZ_TEST_CONC") == 11
    monkeypatch.setenv("CZ_TEST_CONC", "3")
    assert configured_concurrency(11, env="CZ_TEST_CONC") == 3
    for bad in ("x", "abc", "2.5", "0", "-1"):
        monkeypatch.setenv("CZ_TEST_CONC", bad)
        with pytest.raises(InvalidArgumentError, match="CZ_TEST_CONC"):
            configured_concurrency(11, env="CZ_TEST_CONC")


def test_limiter_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Limiter(0)


async def test_limiter_bounds_and_records_peak() -> None:
    limiter = Limiter(3)
    release = asyncio.Event()
    entered = 0

    async def hold() -> None:
        nonlocal entered
        async with limiter:
            entered += 1
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(10)]
    while entered < 3:
        await asyncio.sleep(0)
    for _ in range(5):  # give the others every chance to (wrongly) enter
        await asyncio.sleep(0)
    assert entered == 3
    assert limiter.in_flight == 3
    release.set()
    await asyncio.gather(*tasks)
    assert entered == 10
    assert limiter.peak_in_flight == 3
    assert limiter.in_flight == 0
    limiter.reset_peak()
    assert limiter.peak_in_flight == 0


def test_limiter_serves_several_event_loops() -> None:
    # One limiter, used from two loops in turn (a user's loop and the sync API's loop).
    limiter = Limiter(2)

    async def use() -> int:
        async with limiter:
            return limiter.in_flight

    assert asyncio.run(use()) == 1
    assert asyncio.run(use()) == 1
    assert limiter.in_flight == 0


async def test_limiter_shrinks_on_throttling_and_grows_back_additively() -> None:
    limiter = Limiter(16)
    epoch = limiter.epoch
    limiter.throttled(epoch)
    assert limiter.limit == 8
    # Answers to requests sent before that cut do not cut again.
    limiter.throttled(epoch)
    assert limiter.limit == 8
    limiter.throttled(limiter.epoch)
    assert limiter.limit == 4
    # About one slot per window of `limit` successes (each adds 1/window).
    for _ in range(4):
        limiter.succeeded()
    assert limiter.limit == 4
    limiter.succeeded()
    assert limiter.limit == 5
    for _ in range(200):
        limiter.succeeded()
    assert limiter.limit == 16
    for _ in range(10):
        limiter.throttled(limiter.epoch)
    assert limiter.limit == 1
    assert limiter.decreases == 12


async def test_a_cut_limit_admits_fewer_and_a_grown_one_wakes_waiters() -> None:
    limiter = Limiter(4)
    limiter.throttled(limiter.epoch)
    limiter.throttled(limiter.epoch)
    assert limiter.limit == 1
    release = asyncio.Event()
    entered = 0

    async def hold() -> None:
        nonlocal entered
        async with limiter:
            entered += 1
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(4)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert entered == 1
    for _ in range(20):  # grow back to 4 while the waiters wait
        limiter.succeeded()
    for _ in range(10):
        await asyncio.sleep(0)
    assert entered == 4
    release.set()
    await asyncio.gather(*tasks)
    assert limiter.in_flight == 0
